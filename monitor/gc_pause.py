"""Pausing Python's cycle collector while a request builds tens of thousands of tuples.

Every tuple a database row arrives in is tracked by the cycle collector, and
each 700 new ones trigger a collection; over a gunicorn worker's heap (Django,
DRF, the app) the older generations' passes are what cost. `latest` of 20,000
series spent about 45 of its 100 ms in them (measured in bench/latest.py's
data set). Such reads create no reference cycles, so the collector has nothing
to find there; it runs again, over what is left, once the read is done.

The collector is per process, not per thread: in a gthread worker under steady
load the pauses of concurrent requests overlap and it would hardly ever run,
while other requests leave cyclic garbage behind. Three clients reading
`latest` (15,000 series) from gunicorn -w 4 grew each worker by ~35 MB every
15 s without end. So a full collection runs at least every
FULL_COLLECTION_SECONDS as pauses end: at 1 s the workers level off at
160-195 MB (140 MB never pausing; 230-290 MB at 10 s), and answer 14% more
requests than never pausing.
"""

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

FULL_COLLECTION_SECONDS = 1.0

_lock = threading.Lock()
_pausers = 0
_was_enabled = False
_collected_at = time.monotonic()


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cycle collection inside the block; nested and concurrent blocks (gthread workers) share one pause.

    The collector comes back when the last block open ends, and only if it was
    on when the first began (a process that turned it off keeps it off).
    """
    global _pausers, _was_enabled, _collected_at
    with _lock:
        if _pausers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausers += 1
    try:
        yield
    finally:
        with _lock:
            _pausers -= 1
            due = _was_enabled and time.monotonic() - _collected_at > FULL_COLLECTION_SECONDS
            if due:
                _collected_at = time.monotonic()
            if _pausers == 0 and _was_enabled:
                gc.enable()
        if due:
            # Outside the lock: the finalizers a collection runs may take locks of their
            # own, which another thread could hold while it waits for this one.
            gc.collect()
