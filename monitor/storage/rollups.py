"""Per-minute and per-hour rollups (count, sum, min, max, last) and latest values, kept up to date as samples arrive.

A write folds the samples it stored with one upsert: the rows are aggregated
here first, then added to what each bucket already holds (count and sum add
up, min and max compare, the newest `last` wins). The same statement moves
each series' latest value (step 0). On MySQL the minute and hour buckets of
samples at or past the fold watermark are left to the folder (folding.py),
which adds them a minute at a time with the same upsert. Nothing is ever
rescanned, except the buckets a sample edit or delete touched (`recompute`).
"""

from collections.abc import Iterable, Sequence
from functools import cache

from django.db import connection

from monitor.models import Rollup, Sample

from .bulk import insert_numbers, numbers_statement, numbers_statement_of

US = 1_000_000
TIERS = (Rollup.MINUTE, Rollup.HOUR)  # bucket lengths in seconds, finest first
COLUMNS = ("series_id", "step", "bucket", "count", "sum", "min", "max", "last", "last_ts")
ROW_FORMAT = "(%d,%d,%d,%d,%r,%r,%r,%r,%d)"
AFTER_COUNT_FORMAT = "%r,%r,%r,%r,%d"  # sum, min, max, last, last_ts
FIGURES_FORMAT = "%d," + AFTER_COUNT_FORMAT  # count and the rest: ROW_FORMAT after the key


def aggregate(rows: Iterable[tuple[int, int, float]], step: int) -> list[tuple]:
    """(series_id, ts_us, value) rows -> one (series_id, step, bucket, count, sum, min, max, last, last_ts) per bucket.

    step 0 (latest) aggregates each series' rows into bucket 0.
    """
    size = step * US
    buckets: dict[tuple[int, int], list] = {}
    for series_id, ts, value in rows:
        key = (series_id, ts // size * step if step else 0)
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
    return [(series_id, step, bucket, *b) for (series_id, bucket), b in buckets.items()]


def fold(rows: Sequence[tuple[int, int, float]], watermark: int | None) -> None:
    """Add freshly stored samples to the latest values, and to the tiers those below `watermark` (None: all).

    The caller's transaction makes it atomic, and holds the watermark's shared lock (folding.lock_for_write).
    """
    if not rows:
        return
    insert_numbers(_upsert_sql(connection.vendor), _buckets(rows, watermark), ROW_FORMAT)


def write_buckets(rows: list[tuple]) -> None:
    """Add aggregated rows (COLUMNS order, primary key order) to what their buckets hold."""
    insert_numbers(_upsert_sql(connection.vendor), rows, ROW_FORMAT)


def _buckets(rows: Sequence[tuple[int, int, float]], watermark: int | None) -> list[tuple]:
    """The latest values and the tiers' buckets of `rows` in primary key order (concurrent writers lock alike)."""
    late = rows if watermark is None else [row for row in rows if row[1] < watermark]
    folded = [*aggregate(rows, Rollup.LATEST), *[b for step in TIERS for b in aggregate(late, step)]]
    folded.sort(key=lambda row: row[:3])
    return folded


def inline_fold_sql(rows: Sequence[tuple[int, int, float]]) -> str:
    """`fold` of every tier as the text of one MySQL statement (the watermark not in use)."""
    return numbers_statement(_upsert_sql("mysql"), _buckets(rows, None), ROW_FORMAT)


def fold_sql(sample: tuple[int, int, float], locked_watermark_read: str) -> str:
    """`fold` of one sample as the text of one MySQL statement, for the packet that also holds its INSERT.

    The packet cannot read the watermark before it is sent, so the statement
    reads it itself, under the shared lock a write takes (`locked_watermark_read`,
    folding.LOCK_FOR_WRITE_SQL, as a subquery, evaluated before the first tier row
    is written). A sample at or past the
    watermark is the folder's: its minute and hour rows are then keyed as the
    latest value's row, and ON DUPLICATE KEY UPDATE applies the same figures to
    it again, changing nothing. One statement on the partitioned table, as
    before the watermark: each statement there costs more than its rows.
    """
    series_id, ts, _ = sample
    past = _at_or_past(locked_watermark_read, ts)
    rows = [ROW_FORMAT % aggregate([sample], Rollup.LATEST)[0]]
    for step in TIERS:
        ((_, _, bucket, *figures),) = aggregate([sample], step)
        key = f"{int(series_id)},IF({past},0,{step}),IF({past},0,{int(bucket)})"
        rows.append(f"({key},{FIGURES_FORMAT % tuple(figures)})")
    return numbers_statement_of(_upsert_sql("mysql"), rows)


def latest_sql(sample: tuple[int, int, float], locked_watermark_read: str) -> str:
    """The latest value's upsert alone, for one sample believed to lie at or past the watermark.

    The statement checks that belief: its count is NULL unless the watermark,
    read under the write's shared lock (`locked_watermark_read`), is at or below
    the sample, and a NULL count fails the statement (error 1048, BAD_NULL: every
    connection runs in strict mode, db_django/env.py). The writer then stores the
    sample on the careful path, which folds a late one into its tiers. One row
    with its key written out, where `fold_sql` upserts three with computed keys:
    413 against 453 us of MariaDB per write (BENCHMARKS.md, "The single POST's own path").
    """
    series_id, ts, _ = sample
    ((_, step, bucket, count, *rest),) = aggregate([sample], Rollup.LATEST)
    checked = f"IF({_at_or_past(locked_watermark_read, ts)},{int(count)},NULL)"
    row = f"({int(series_id)},{int(step)},{int(bucket)},{checked},{AFTER_COUNT_FORMAT % tuple(rest)})"
    return numbers_statement_of(_upsert_sql("mysql"), [row])


def _at_or_past(locked_watermark_read: str, ts: int) -> str:
    """SQL: true where the sample at `ts` lies at or past the watermark (NULL, not true, while it is NULL)."""
    return f"({locked_watermark_read}) <= {int(ts)}"


def recompute(series_id: int, ts_values: Iterable[int], watermark: int | None) -> None:
    """Rebuild the latest value and the minute and hour buckets holding these instants, after an edit or delete.

    In the order a write's fold locks them (latest value, minutes, hours: `_buckets`), so an
    edit and a write of the same series wait for each other instead of deadlocking. Minutes
    at or past `watermark` (the caller holds its shared lock) are the folder's to make: they
    hold nothing yet, and the hour they start in holds only the minutes before them.
    """
    instants = {ts for ts in ts_values if watermark is None or ts < watermark}
    newest = Sample.objects.filter(series_id=series_id).order_by("-ts").values_list("series_id", "ts", "value")[:1]
    _delete(series_id, Rollup.LATEST, 0)
    write_buckets(aggregate(newest, Rollup.LATEST))
    rows: list[tuple] = []
    for bucket in sorted({ts // (60 * US) * 60 for ts in instants}):
        raw = Sample.objects.filter(series_id=series_id, ts__gte=bucket * US, ts__lt=(bucket + 60) * US)
        _delete(series_id, Rollup.MINUTE, bucket)
        rows += aggregate(raw.values_list("series_id", "ts", "value"), Rollup.MINUTE)
    write_buckets(rows)
    rows = []
    for bucket in sorted({ts // (3600 * US) * 3600 for ts in instants}):
        minutes = Rollup.objects.filter(
            series_id=series_id, step=Rollup.MINUTE, bucket__gte=bucket, bucket__lt=bucket + 3600
        ).values_list(*COLUMNS[3:])
        _delete(series_id, Rollup.HOUR, bucket)
        rows += merge(minutes, series_id, Rollup.HOUR, bucket)
    write_buckets(rows)


def merge(parts: Iterable[tuple], series_id: int, step: int, bucket: int) -> list[tuple]:
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
    return [] if merged is None else [(series_id, step, bucket, *merged)]


def _delete(series_id: int, step: int, bucket: int) -> None:
    Rollup.objects.filter(series_id=series_id, step=step, bucket=bucket).delete()


@cache
def _upsert_sql(vendor: str) -> str:
    """The fold's upsert: count and sum add up, min and max compare, the newest `last` wins.

    The latest value (step 0) takes the newest write's figures instead of adding up
    forever. On MySQL the assignments run left to right and see the columns already
    assigned: `last` must be decided before `last_ts` moves.
    """
    quote = connection.ops.quote_name
    c = {name: quote(name) for name in COLUMNS}
    insert = (
        f"INSERT INTO {quote(Rollup._meta.db_table)} ({', '.join(c.values())})"
        f" VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    )
    if vendor == "mysql":
        head = f"{insert} ON DUPLICATE KEY UPDATE"
        new = {name: f"VALUES({c[name]})" for name in COLUMNS}
        least, greatest = "LEAST", "GREATEST"

        def when(test: str, then: str, otherwise: str) -> str:
            return f"IF({test}, {then}, {otherwise})"

    else:
        head = f"{insert} ON CONFLICT ({c['series_id']}, {c['step']}, {c['bucket']}) DO UPDATE SET"
        new = {name: f"excluded.{c[name]}" for name in COLUMNS}
        least, greatest = "MIN", "MAX"

        def when(test: str, then: str, otherwise: str) -> str:
            return f"CASE WHEN {test} THEN {then} ELSE {otherwise} END"

    latest = f"{c['step']} = 0"
    assignments = [
        (c["count"], when(latest, new["count"], f"{c['count']} + {new['count']}")),
        (c["sum"], when(latest, new["sum"], f"{c['sum']} + {new['sum']}")),
        (c["min"], when(latest, new["min"], f"{least}({c['min']}, {new['min']})")),
        (c["max"], when(latest, new["max"], f"{greatest}({c['max']}, {new['max']})")),
        (c["last"], when(f"{new['last_ts']} >= {c['last_ts']}", new["last"], c["last"])),
        (c["last_ts"], f"{greatest}({c['last_ts']}, {new['last_ts']})"),
    ]
    return head + ",".join(f" {column} = {value}" for column, value in assignments)
