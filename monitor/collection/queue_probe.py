"""The task-queue probe: asks the workers and the broker, once per server cycle, what they hold."""

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from celery import Celery, current_task
from django.utils import timezone
from kombu import Connection
from kombu.pidbox import Mailbox

from monitor.broker import broadcast_and_collect, broker_connection, broker_failure, control_mailbox, queue_depths

from .collectors import Collected, Counters, Sample
from .collectors.queue import collect_queue
from .worker_control import own_task_counts

logger = logging.getLogger(__name__)

# The broadcast stops listening once as many workers answered as last cycle, so
# a worker that joins would never be heard; at least this often a cycle listens
# out its whole window instead.
WORKER_DISCOVERY_SECONDS = 10.0
TASK_KINDS = ("active", "reserved", "scheduled")


@dataclass(frozen=True)
class Report:
    """What one cycle heard: each worker's task counts and the broker's state (stored as models.QueueReport)."""

    reported_at: datetime
    workers: dict[str, dict[str, int]]
    broker: dict


class QueueProbe:
    """Workers' task counts and queue lengths, over one broker connection kept between cycles.

    Opening a connection and a mailbox costs more CPU than the questions asked
    on them, so both live as long as the broker answers; the broadcast stops
    listening once as many workers answered as last cycle instead of waiting
    out its window, which at a 1 s interval would overlap the next cycle and
    keep every worker's event loop busy. Every `discovery_seconds` a cycle
    listens out the window, so a worker that joined is counted.
    """

    def __init__(self, app: Celery, discovery_seconds: float = WORKER_DISCOVERY_SECONDS) -> None:
        self.app = app
        self.discovery_seconds = discovery_seconds
        self._broker: Connection | None = None
        self._mailbox: Mailbox | None = None
        self._workers_last_cycle = 0
        self._listened_fully_at = float("-inf")
        self._report: Report | None = None

    def collect(self, previous: Counters | None, timeout: float) -> Collected:
        """One cycle's samples, rates against `previous` (the workers' totals last cycle).

        A broker that is down or frozen yields `celery.broker_up` 0 and no totals.
        What the cycle heard is kept for `take_report`.
        """
        started = time.monotonic()
        expected = self._workers_last_cycle
        if started - self._listened_fully_at >= self.discovery_seconds:
            expected, self._listened_fully_at = 0, started
        try:
            if self._broker is None or self._mailbox is None:
                self._broker = broker_connection(self.app, timeout)
                self._mailbox = control_mailbox(self.app, self._broker)
            replies = broadcast_and_collect(
                self.app,
                self._broker,
                "task_counts",
                wait=timeout * 0.6,
                expected=expected,
                mailbox=self._mailbox,
                known=own_task_counts(),
            )
            asked = time.monotonic()
            depths = queue_depths(self._broker, [self.app.conf.task_default_queue])
            # The queue-length read is one round trip: the broker's latency. The
            # broadcast's time is the workers' (or, every discovery cycle, the window).
            latency_ms = round((time.monotonic() - asked) * 1000, 1)
        except Exception as exc:  # broker down or frozen: that is the sample
            logger.warning("task queue: broker unavailable: %s", exc)
            self.close()
            self._report = Report(timezone.now(), {}, broker_failure(exc))
            return Collected([Sample("celery.broker_up", 0.0, "broker answered")])
        self._workers_last_cycle = len(replies)
        replies = without_this_cycle(replies)
        self._report = Report(
            timezone.now(),
            {worker: {kind: int(reply.get(kind, 0)) for kind in TASK_KINDS} for worker, reply in replies.items()},
            {"state": "ok", "latency_ms": latency_ms},
        )
        queue = collect_queue(replies, depths, previous, time.time())
        return Collected([Sample("celery.broker_up", 1.0, "broker answered"), *queue.samples], queue.counters)

    def take_report(self) -> Report | None:
        """What the last `collect` heard, once: None if it was taken already (or nothing was collected)."""
        report, self._report = self._report, None
        return report

    def close(self) -> None:
        if self._broker is not None:
            self._broker.release()
        self._broker = self._mailbox = None


def without_this_cycle(replies: dict[str, dict]) -> dict[str, dict]:
    """The replies with the task asking them (a server-status cycle) not counted among its worker's active tasks.

    Run in a worker, the probe is itself an active task of the worker that
    runs it: counted, every report would show one active task on an idle
    deployment. Outside a task (tests, `manage.py collect`) nothing changes.
    """
    worker = current_task.request.hostname if current_task else None  # a proxy: false outside a task
    if worker not in replies:
        return replies
    own = replies[worker]
    return {**replies, worker: {**own, "active": max(0, int(own.get("active", 0)) - 1)}}
