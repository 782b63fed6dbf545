"""Pausing Python's cycle collector while a request builds tens of thousands of tuples.

Every tuple a database row arrives in is tracked by the cycle collector, and
each 700 new ones trigger a collection; over a gunicorn worker's heap (Django,
DRF, the app) the older generations' passes are what cost. `latest` of 20,000
series spent about 45 of its 100 ms in them (measured in bench/latest.py's
data set). Such reads create no reference cycles, so the collector has nothing
to find there; it runs again, over what is left, once the read is done.
"""

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

# Overlapping blocks keep one pause going; under a steady stream of them the
# young generations are still collected this often, so garbage cycles other
# requests leave behind meanwhile cannot pile up.
MAX_PAUSE_SECONDS = 1.0

_lock = threading.Lock()
_pausers = 0
_was_enabled = False
_paused_at = 0.0


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cycle collection inside the block; nested and concurrent blocks (gthread workers) share one pause.

    The collector comes back when the last block open ends, and only if it was
    on when the first began (a process that turned it off keeps it off).
    """
    global _pausers, _was_enabled, _paused_at
    with _lock:
        if _pausers == 0:
            _was_enabled, _paused_at = gc.isenabled(), time.monotonic()
            gc.disable()
        _pausers += 1
    try:
        yield
    finally:
        with _lock:
            _pausers -= 1
            if _pausers == 0:
                if _was_enabled:
                    gc.enable()
            elif _was_enabled and time.monotonic() - _paused_at > MAX_PAUSE_SECONDS:
                gc.collect(1)
                _paused_at = time.monotonic()
