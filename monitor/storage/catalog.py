"""The series catalog: from (host, name) to the small integer every sample row carries.

Each process keeps the ids it has seen, so a write that names known series
costs no catalog query at all; series it has not seen cost one SELECT for the
whole batch, and those not stored yet one INSERT IGNORE and one more SELECT;
concurrent writers creating the same series agree on one row (the unique key).
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from monitor.models import Series

from .names import parse, series_key, unit_of

# Entries kept per process before the cache starts over (a fleet of 200 hosts
# with 150 series each is 30,000).
CACHE_LIMIT = 200_000
# The cache starts over this often, so a series deleted by another process (the
# admin) is created again by writers that still name it, within this bound.
CACHE_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class Known:
    id: int
    description: str


_cache: dict[tuple[str, str], Known] = {}
_cache_started = time.monotonic()


def series_ids(wanted: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], int]:
    """Ids of (host, name) series, created where missing; `wanted` yields (host, name, description).

    A non-empty description that differs from the stored one replaces it:
    the description belongs to the series.
    """
    global _cache_started
    if time.monotonic() - _cache_started > CACHE_SECONDS:
        _cache.clear()
        _cache_started = time.monotonic()
    ids: dict[tuple[str, str], int] = {}
    missing: dict[tuple[str, str], str] = {}
    changed: dict[int, str] = {}
    for host, name, description in wanted:
        pair = (host, name)
        if pair in ids or pair in missing:
            if description and pair in missing:
                missing[pair] = description
            continue
        known = _cache.get(pair)
        if known is None:
            missing[pair] = description
            continue
        ids[pair] = known.id
        if description and description != known.description:
            changed[known.id] = description
            _cache[pair] = Known(known.id, description)
    if missing:
        ids.update(_create(missing))
    for series_id, description in changed.items():
        Series.objects.filter(id=series_id).update(description=description)
    return ids


def _create(missing: dict[tuple[str, str], str]) -> dict[tuple[str, str], int]:
    """Ids of the series this process has not cached: looked up first, the ones not stored yet created.

    Looking up before inserting matters: each INSERT IGNORE of a row that exists
    still takes an id from the table's AUTO_INCREMENT (InnoDB), and every process
    asks again for all of its series each time its cache starts over. Series ids
    are 32-bit (they are in every sample row), so at fleet scale those lost ids
    would run the counter out within months.
    """
    by_key = {series_key(host, name): (host, name) for host, name in missing}
    if len(_cache) + len(by_key) > CACHE_LIMIT:
        _cache.clear()
    found = _look_up(by_key, missing)
    absent = {key: pair for key, pair in by_key.items() if pair not in found}
    if absent:
        now = timezone.now()
        rows = []
        for key, (host, name) in absent.items():
            metric, labels = parse(name)
            rows.append(
                Series(
                    key=key,
                    name=name,
                    metric=metric[:255],
                    host=host,
                    labels=labels,
                    description=missing[(host, name)],
                    unit=unit_of(metric),
                    first_seen=now,
                )
            )
        Series.objects.bulk_create(rows, ignore_conflicts=True)  # another writer may create some meanwhile
        found.update(_look_up(absent, missing))
    return found


def _look_up(by_key: dict[str, tuple[str, str]], missing: dict[tuple[str, str], str]) -> dict[tuple[str, str], int]:
    """The stored series of `by_key`, cached; a wanted description that differs from the stored one replaces it."""
    found: dict[tuple[str, str], int] = {}
    for series_id, key, description in Series.objects.filter(key__in=by_key).values_list("id", "key", "description"):
        pair = by_key[key]
        found[pair] = series_id
        wanted = missing[pair]
        if wanted and wanted != description:
            Series.objects.filter(id=series_id).update(description=wanted)
            description = wanted
        _cache[pair] = Known(series_id, description)
    return found


def forget() -> None:
    """Drop this process's cache (after series were deleted or in tests that reset the database)."""
    _cache.clear()
