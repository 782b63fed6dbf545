"""The beat scheduler: celery's PersistentScheduler without its busy wait.

Celery's scheduler wakes 10 ms early for each due entry (its `drift`), finds
the entry not due yet and asks to be woken again in "remaining minus 10 ms",
which is zero or less: beat then ticks back to back, without sleeping, for
the last 10 ms before every run. At METRICS_INTERVAL=1 that was about 90
wasted ticks a cycle and most of beat's CPU (1.6% of a core, measured with
bench/collector_cost.py). Here a wait shorter than the drift is slept in
full, so each run costs one or two ticks.

Selected by CELERY_BEAT_SCHEDULER in settings; `celery -A db_django beat`
needs no option for it.
"""

from celery.beat import PersistentScheduler


class Scheduler(PersistentScheduler):
    def adjust(self, n: float | None, drift: float = -0.010) -> float | None:
        if n and n > 0:
            early = n + drift
            return early if early > 0 else n
        return n
