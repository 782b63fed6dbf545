"""Per-minute and per-hour rollups (count, sum, min, max, last) kept up to date as samples arrive.

A write folds the samples it stored into their buckets with one upsert per
tier: the rows are aggregated here first, then added to what the bucket
already holds (count and sum add up, min and max compare, the newest `last`
wins). Nothing is ever rescanned, except the one bucket a sample edit or
delete touched (`recompute`).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from django.db import connection

from monitor.models import RollupHour, RollupMinute, Sample

US = 1_000_000


@dataclass(frozen=True)
class Tier:
    model: type
    seconds: int

    @property
    def table(self) -> str:
        return self.model._meta.db_table


MINUTE = Tier(RollupMinute, 60)
HOUR = Tier(RollupHour, 3600)
TIERS = (MINUTE, HOUR)  # finest first
COLUMNS = ("series_id", "bucket", "count", "sum", "min", "max", "last", "last_ts")


def aggregate(rows: Iterable[tuple[int, int, float]], seconds: int) -> list[tuple]:
    """(series_id, ts_us, value) rows -> one (series_id, bucket, count, sum, min, max, last, last_ts) per bucket."""
    step = seconds * US
    buckets: dict[tuple[int, int], list] = {}
    for series_id, ts, value in rows:
        key = (series_id, ts // step * seconds)
        b = buckets.get(key)
        if b is None:
            buckets[key] = [1, value, value, value, value, ts]
            continue
        b[0] += 1
        b[1] += value
        if value < b[2]:
            b[2] = value
        if value > b[3]:
            b[3] = value
        if ts >= b[5]:
            b[4], b[5] = value, ts
    return [(series_id, bucket, *b) for (series_id, bucket), b in buckets.items()]


def fold(rows: Sequence[tuple[int, int, float]]) -> None:
    """Add freshly stored samples to every tier (the caller's transaction makes it all or nothing)."""
    if not rows:
        return
    with connection.cursor() as cursor:
        for tier in TIERS:
            cursor.executemany(_upsert_sql(connection.vendor, tier.table), aggregate(rows, tier.seconds))


def recompute(series_id: int, ts_values: Iterable[int]) -> None:
    """Rebuild the minute and hour buckets holding these instants from the tier below (after an edit or delete)."""
    instants = set(ts_values)
    minutes = {ts // (60 * US) * 60 for ts in instants}
    hours = {ts // (3600 * US) * 3600 for ts in instants}
    for bucket in sorted(minutes):
        raw = Sample.objects.filter(series_id=series_id, ts__gte=bucket * US, ts__lt=(bucket + 60) * US)
        _replace(MINUTE, series_id, bucket, aggregate(raw.values_list("series_id", "ts", "value"), 60))
    for bucket in sorted(hours):
        minute_rows = RollupMinute.objects.filter(series_id=series_id, bucket__gte=bucket, bucket__lt=bucket + 3600)
        _replace(HOUR, series_id, bucket, merge(minute_rows.values_list(*COLUMNS[2:]), series_id, bucket))


def merge(parts: Iterable[tuple], series_id: int, bucket: int) -> list[tuple]:
    """Several (count, sum, min, max, last, last_ts) into one row of `bucket`, or none when there are none."""
    merged: list | None = None
    for count, total, low, high, last, last_ts in parts:
        if merged is None:
            merged = [count, total, low, high, last, last_ts]
            continue
        merged[0] += count
        merged[1] += total
        merged[2] = min(merged[2], low)
        merged[3] = max(merged[3], high)
        if last_ts >= merged[5]:
            merged[4], merged[5] = last, last_ts
    return [] if merged is None else [(series_id, bucket, *merged)]


def _replace(tier: Tier, series_id: int, bucket: int, rows: list[tuple]) -> None:
    tier.model.objects.filter(series_id=series_id, bucket=bucket).delete()
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(_upsert_sql(connection.vendor, tier.table), rows)


@cache
def _upsert_sql(vendor: str, table: str) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in COLUMNS)
    insert = f"INSERT INTO {quote(table)} ({columns}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    c = {name: quote(name) for name in COLUMNS}
    if vendor == "mysql":
        # Assignments run left to right and see the columns already assigned:
        # `last` must be decided before `last_ts` moves.
        new = {name: f"VALUES({c[name]})" for name in COLUMNS}
        return (
            f"{insert} ON DUPLICATE KEY UPDATE {c['count']} = {c['count']} + {new['count']},"
            f" {c['sum']} = {c['sum']} + {new['sum']}, {c['min']} = LEAST({c['min']}, {new['min']}),"
            f" {c['max']} = GREATEST({c['max']}, {new['max']}),"
            f" {c['last']} = IF({new['last_ts']} >= {c['last_ts']}, {new['last']}, {c['last']}),"
            f" {c['last_ts']} = GREATEST({c['last_ts']}, {new['last_ts']})"
        )
    new = {name: f"excluded.{c[name]}" for name in COLUMNS}
    return (
        f"{insert} ON CONFLICT ({c['series_id']}, {c['bucket']}) DO UPDATE SET"
        f" {c['count']} = {c['count']} + {new['count']}, {c['sum']} = {c['sum']} + {new['sum']},"
        f" {c['min']} = MIN({c['min']}, {new['min']}), {c['max']} = MAX({c['max']}, {new['max']}),"
        f" {c['last']} = CASE WHEN {new['last_ts']} >= {c['last_ts']} THEN {new['last']} ELSE {c['last']} END,"
        f" {c['last_ts']} = MAX({c['last_ts']}, {new['last_ts']})"
    )
