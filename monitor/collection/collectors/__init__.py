"""Collectors: pure functions that read one source and return samples.

No ORM and no Celery in here; tasks.py runs a collector and stores what it
returns. Counter-based rates need the previous cycle's readings: collectors
that report rates take them as an argument and return this cycle's readings
with the samples (`Collected`); the caller keeps them where every worker
process sees them (monitor/storage/counters.py).
"""

from .base import Collected, Counters, RateTracker, Sample

__all__ = ["Collected", "Counters", "RateTracker", "Sample"]
