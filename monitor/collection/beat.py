"""The beat scheduler: celery's PersistentScheduler without its busy wait.

Celery's scheduler wakes 10 ms early for each due entry (its `drift`), finds
the entry not due yet and asks to be woken again in "remaining minus 10 ms",
which is zero or less: beat then ticks back to back, without sleeping, for
the last 10 ms before every run. At METRICS_INTERVAL=1 that was about 90
wasted ticks a cycle and most of beat's CPU (1.6% of a core, measured with
bench/collector_cost.py). Here a wait shorter than the drift is slept in
full, so each run costs one or two ticks.

It also keeps alerting going while no worker reports: the alert tasks are
then run by beat itself (monitor/alerts/watchdog.py).

Selected by CELERY_BEAT_SCHEDULER in settings; `celery -A db_django beat`
needs no option for it.
"""

import logging

from celery.beat import PersistentScheduler, ScheduleEntry
from django.db import close_old_connections

logger = logging.getLogger(__name__)


class Scheduler(PersistentScheduler):
    def apply_entry(self, entry: ScheduleEntry, producer=None) -> None:
        from monitor.alerts import watchdog

        if entry.task in watchdog.WATCHED:
            try:
                close_old_connections()  # beat has no requests to recycle a connection the server dropped
                alone = not watchdog.workers_reporting()
            except Exception as exc:  # noqa: BLE001  the database is down: the task would fail here too
                logger.warning("could not tell whether workers report (%s): sending %s", exc, entry.task)
                alone = False
            watchdog.note(alone)
            if alone:
                if entry.task == watchdog.EVALUATE_ALERTS:
                    watchdog.run_here("record_no_worker", watchdog.record_no_worker)
                watchdog.run_here(entry.task, watchdog.task_body(entry.task))
                return
        super().apply_entry(entry, producer=producer)

    def adjust(self, n: float | None, drift: float = -0.010) -> float | None:
        if n and n > 0:
            early = n + drift
            return early if early > 0 else n
        return n
