"""Changing or removing stored samples (the API's PUT, PATCH and DELETE; the admin).

Rare operations: each rebuilds the rollup buckets and the latest value its
sample was part of, instead of making the write path track what it would
have to undo.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction

from monitor.models import Sample

from .folding import lock_for_write
from .inserts import Point, retrying, store
from .rollups import recompute


def delete_sample(series_id: int, ts: int) -> bool:
    """Remove one sample; False when there was none (another request may just have removed or moved it)."""

    def once() -> bool:
        with transaction.atomic():
            return bool(_remove(series_id, [ts]))

    return retrying(once)


def delete_samples(keys: Iterable[tuple[int, int]], chunk: int = 1000) -> int:
    """Remove many samples (the admin's "delete selected"): one DELETE and one rebuild of the touched
    rollups per series and chunk, not per sample (50,000 samples took 150 s one at a time). Returns how many went."""
    by_series: dict[int, list[int]] = defaultdict(list)
    for series_id, ts in keys:
        by_series[series_id].append(ts)
    removed = 0
    for series_id, instants in sorted(by_series.items()):
        for start in range(0, len(instants), chunk):
            part = instants[start : start + chunk]

            def once(part: list[int] = part, series_id: int = series_id) -> int:
                with transaction.atomic():
                    return _remove(series_id, part)

            removed += retrying(once)
    return removed


def replace_sample(series_id: int, ts: int, point: Point) -> tuple[int, int] | None:
    """Replace one sample by `point` (which may name another series or instant); returns the new key,
    or None when the sample is gone (another request removed or moved it first: the edit is not made).

    Raises inserts.Conflict when the new place already holds another value.
    """

    def once() -> tuple[int, int] | None:
        with transaction.atomic():
            if not _remove(series_id, [ts]):
                return None
            (key,) = store([point])
        return key

    return retrying(once)


def _remove(series_id: int, instants: list[int]) -> int:
    """Delete samples of one series and rebuild the rollups they were part of (in the caller's transaction);
    how many there were (0: gone already)."""
    watermark = lock_for_write()  # first, as a write: the folder does not fold around the edit
    deleted, _ = Sample.objects.filter(series_id=series_id, ts__in=instants).delete()
    if deleted:
        recompute(series_id, instants, watermark)
    return deleted
