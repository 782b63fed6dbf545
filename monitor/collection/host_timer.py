"""Host sampling on the worker's own clock: every METRICS_INTERVAL seconds, no message per cycle.

Each worker samples the machine it runs on. Driving that from beat meant a
broadcast message per cycle: beat's tick and send, then the worker's receipt,
trace and thread hand-off, which cost more CPU than the cycle's own work. At
METRICS_INTERVAL=1, worker and beat took 1.07% of a core that way and 0.70%
with this timer (bench/collector_cost.py, BENCHMARKS.md "Where the worker's 1%
goes"). Beat still drives everything that runs once per deployment (server
and queue status, alerts, folding, pruning).

MONITOR_HOST_TIMER=0 goes back to beat's broadcast (monitor/collection/schedule.py).
Either way a cycle is `tasks.store_cycle` of the host collectors, and a
"collect now" (POST /monitor/collect/) still broadcasts one to every worker.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)


class HostTimer:
    """Runs `cycle` on a thread of its own every `every` seconds, at whole multiples of it on the wall clock.

    A cycle that overruns its slot skips the slots it missed instead of
    running them back to back (beat's `expires` did the same for late
    messages). A failing cycle is logged and the next one runs on time.
    """

    def __init__(self, every: float, cycle: Callable[[], object], name: str = "host timer") -> None:
        self.every = float(every)
        self.cycle = cycle
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to end after the cycle in hand, and wait up to `timeout` seconds for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        due = self._next_slot(time.time())
        while not self._stop.wait(max(0.0, due - time.time())):
            try:
                self.cycle()
            except Exception:
                logger.exception("host cycle failed; the next one runs in %ss", self.every)
            due = self._next_slot(max(due, time.time()))
        connections.close_all()

    def _next_slot(self, after: float) -> float:
        return (after // self.every + 1) * self.every


def sample_host() -> int:
    """One host cycle, as the beat-driven task stores it, with a fresh cycle id."""
    from .tasks import store_host_cycle

    close_old_connections()  # what task_prerun does before each task
    return store_host_cycle(str(uuid.uuid4()))


_timer: HostTimer | None = None


@worker_ready.connect
def _start_host_timer(**kwargs) -> None:
    global _timer
    if settings.MONITOR_HOST_TIMER and _timer is None:
        _timer = HostTimer(settings.METRICS_INTERVAL, sample_host)
        _timer.start()
        logger.info("sampling this host every %ss on the worker's own timer", settings.METRICS_INTERVAL)


@worker_shutdown.connect
def _stop_host_timer(**kwargs) -> None:
    global _timer
    if _timer is not None:
        _timer.stop(timeout=settings.MONITOR_COLLECT_TIMEOUT)
        _timer = None
