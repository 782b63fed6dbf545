"""Changing or removing stored samples (the API's PUT, PATCH and DELETE; the admin).

Rare operations: each rebuilds the rollup buckets and the latest value its
sample was part of, instead of making the write path track what it would
have to undo.
"""

from django.db import transaction

from monitor.models import Rollup, Sample, Series

from .catalog import forget
from .inserts import Point, retrying, store
from .rollups import recompute


def delete_sample(series_id: int, ts: int) -> bool:
    """Remove one sample; False when there was none (another request may just have removed or moved it)."""

    def once() -> bool:
        with transaction.atomic():
            return _remove(series_id, ts)

    return retrying(once)


def replace_sample(series_id: int, ts: int, point: Point) -> tuple[int, int] | None:
    """Replace one sample by `point` (which may name another series or instant); returns the new key,
    or None when the sample is gone (another request removed or moved it first: the edit is not made).

    Raises inserts.Conflict when the new place already holds another value.
    """

    def once() -> tuple[int, int] | None:
        with transaction.atomic():
            if not _remove(series_id, ts):
                return None
            (key,) = store([point])
        return key

    return retrying(once)


def _remove(series_id: int, ts: int) -> bool:
    """Delete one sample and rebuild the rollups it was part of (in the caller's transaction); False if it was gone."""
    deleted, _ = Sample.objects.filter(series_id=series_id, ts=ts).delete()
    if deleted:
        recompute(series_id, [ts])
    return bool(deleted)


def delete_series(series_id: int) -> None:
    """Remove a series with all its samples and rollups (the admin's delete).

    Other processes forget their cached id within catalog.CACHE_SECONDS; an
    agent that keeps sending the series then creates it anew.
    """
    with transaction.atomic():
        Sample.objects.filter(series_id=series_id).delete()
        Rollup.objects.filter(series_id=series_id).delete()
        Series.objects.filter(id=series_id).delete()
    forget()
