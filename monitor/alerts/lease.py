"""One evaluator at a time, across pool processes and machines, without SELECT ... FOR UPDATE.

The lease is a CounterState row (source "alerts", key "evaluator") whose
`taken_at` is when the lease expires. Taking it is one conditional UPDATE
(expired -> ours), atomic on SQLite and MySQL alike: of two evaluators
starting together exactly one updates a row, the other skips its run. The
expiry bounds a holder that died; a holder that outlives it is caught by
the conditional writes in evaluation.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.utils import timezone

from monitor.models import CounterState
from monitor.storage.instants import EPOCH

SOURCE, KEY = "alerts", "evaluator"


@contextmanager
def evaluator_lease(seconds: float) -> Iterator[bool]:
    """Yields True while this process holds the evaluator lease for up to `seconds`, False if another does."""
    CounterState.objects.bulk_create(
        [CounterState(source=SOURCE, key=KEY, readings={}, taken_at=EPOCH)], ignore_conflicts=True
    )
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    taken = CounterState.objects.filter(source=SOURCE, key=KEY, taken_at__lt=now).update(taken_at=until)
    if not taken:
        yield False
        return
    try:
        yield True
    finally:
        release(until)


def release(until: datetime) -> None:
    """Give the lease back, if it is still the one taken until `until` (not a later holder's)."""
    CounterState.objects.filter(source=SOURCE, key=KEY, taken_at=until).update(taken_at=EPOCH)
