"""What every worker reports about itself, in one remote-control round trip.

Celery's own inspect() needs one broadcast per question (active, reserved,
scheduled), each waiting its full timeout; `task_counts` answers them all, plus
lifetime totals of finished and failed tasks that the queue collector turns
into per-minute rates, dated by the worker's own clock (`time`) so a rate's
span does not depend on which worker collected. Imported by tasks.py so every
worker registers it.
"""

import os
import time
from functools import cache

from celery import Celery, Task
from celery.signals import worker_ready
from celery.utils.collections import AttributeDict
from celery.worker import control
from celery.worker import state as worker_state
from celery.worker.request import Request

# Failures seen by this worker's main process since it started.
_failed = 0


class CountingRequest(Request):
    """A task request that counts failures in the worker's main process.

    Pool results arrive in the main process, where remote-control commands run;
    counters kept in pool children would be invisible to them.
    """

    def acknowledge(self) -> None:
        # A message from a queue consumed without acknowledgement (the host
        # broadcast on Redis, settings.HOST_BROADCAST) has nothing to acknowledge;
        # Celery would still send kombu's ack, a Redis round trip per cycle.
        if not self.acknowledged and self.delivery_info.get("exchange") in _no_ack_exchanges(self.app):
            self.acknowledged = True
            return
        super().acknowledge()

    def on_failure(self, exc_info, send_failed_event=True, return_ok=False):
        global _failed
        _failed += 1
        return super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)


class CountedTask(Task):
    """Base class of every task of this app (see db_django/celery.py)."""

    Request = CountingRequest


@cache
def _no_ack_exchanges(app: Celery) -> frozenset[str]:
    """Exchanges whose every queue is consumed without acknowledgement."""
    queues = app.amqp.queues.values()
    acked = {q.exchange.name for q in queues if not q.no_ack}
    return frozenset(q.exchange.name for q in queues if q.no_ack and q.exchange.name not in acked)


@control.inspect_command()
def task_counts(state, **kwargs) -> dict:
    """Active, reserved and scheduled tasks now; tasks finished and failed since start."""
    active = len(control.active(state))
    accepted = sum(worker_state.total_count.values())
    return {
        "active": active,
        "reserved": len(control.reserved(state)),
        "scheduled": len(control.scheduled(state)),
        "failed_total": _failed,
        "succeeded_total": max(0, accepted - active - _failed),
        "time": time.time(),
    }


# The consumer of the worker whose main loop runs in this process, and that process's id.
_this_worker: dict = {}


@worker_ready.connect
def _remember_this_worker(sender, **kwargs) -> None:
    _this_worker.update(consumer=sender, pid=os.getpid())


def own_task_counts() -> dict[str, dict] | None:
    """This worker's `task_counts` answer, read in-process where the worker's main loop shares the process.

    With the threads (or solo) pool a probe task runs beside the loop that would
    answer its broadcast; over Redis that answer came after the window every other
    cycle, and the report said no worker was online. Asking itself in memory is
    exact and free. None elsewhere: outside a worker, and in prefork children,
    whose parent answers the broadcast (the pid check covers children forked
    after the worker was ready).
    """
    consumer = _this_worker.get("consumer")
    if consumer is None or _this_worker.get("pid") != os.getpid():
        return None
    state = AttributeDict(app=consumer.app, hostname=consumer.hostname, consumer=consumer, tset=set)
    for _ in range(3):  # the main loop may change the sets while they are copied
        try:
            return {consumer.hostname: task_counts(state)}
        except RuntimeError:
            continue
    return None
