"""Changing or removing one stored sample (the API's PUT, PATCH and DELETE; the admin).

Rare operations: each rebuilds the rollup buckets and the latest value its
sample was part of, instead of making the write path track what it would
have to undo.
"""

from django.db import transaction

from monitor.models import Sample, SeriesLatest

from .inserts import Point, store
from .rollups import recompute


def delete_sample(series_id: int, ts: int) -> bool:
    """Remove one sample; False when there was none."""
    with transaction.atomic():
        deleted, _ = Sample.objects.filter(series_id=series_id, ts=ts).delete()
        if not deleted:
            return False
        recompute(series_id, [ts])
        refresh_latest(series_id)
    return True


def replace_sample(series_id: int, ts: int, point: Point) -> tuple[int, int]:
    """Replace one sample by `point` (which may name another series or instant); returns the new key.

    Raises inserts.Conflict when the new place already holds another value.
    """
    with transaction.atomic():
        Sample.objects.filter(series_id=series_id, ts=ts).delete()
        recompute(series_id, [ts])
        refresh_latest(series_id)
        (key,) = store([point])
    return key


def refresh_latest(series_id: int) -> None:
    """Set a series' latest value from its newest remaining sample (or drop it when none is left)."""
    newest = Sample.objects.filter(series_id=series_id).order_by("-ts").values_list("ts", "value").first()
    if newest is None:
        SeriesLatest.objects.filter(series_id=series_id).delete()
        return
    ts, value = newest
    updated = SeriesLatest.objects.filter(series_id=series_id).update(ts=ts, value=value)
    if not updated:
        SeriesLatest.objects.create(series_id=series_id, ts=ts, value=value)
