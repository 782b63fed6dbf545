"""Collectors: pure functions that read one source and return samples.

No ORM and no Celery in here; tasks.py runs a collector and stores what it
returns. Counter-based rates need the previous reading, so collectors that
report rates take and return a `RateTracker` owned by the caller.
"""

from .base import RateTracker, Sample

__all__ = ["RateTracker", "Sample"]
