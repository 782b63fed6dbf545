"""The numbers rules compare: each series' latest value and its minute rollups over each window, in one pass.

Never reads raw samples. One statement per chunk of series reads, for every
window the rules use at once, the latest value (the step-0 row) and the
minute buckets (step 60) starting at or after now - window: the primary key
(series_id, step, bucket) turns it into two short index ranges per series,
and conditional aggregates split the rows among the windows. A thousand
rules sharing three windows cost the same statements as one rule.

The latest row says whether the series has data in the window at all (its
`last_ts`), and stands in for the aggregate while no minute bucket has
started inside a short window yet.

On MySQL the minute rollups hold the samples below the fold watermark only
(monitor/storage/folding.py): the minute or two past it are read from the raw
samples, aggregated by the database the same way, and merged in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from monitor.models import Rollup, Sample
from monitor.storage.folding import folded_until

# Series per statement (the IN list): the same bound the storage reads use.
IDS_PER_QUERY = 2000


# Minute rollups of one series over a window, merged: (count, sum, min, max). A tuple: 30,000 of them a run.
Window = tuple[int, float, float, float]


def window_value(window: Window, lookup: str) -> float:
    count, total, low, high = window
    if lookup == "min":
        return low
    if lookup == "max":
        return high
    return total / count if count else total


@dataclass
class Readings:
    """{series id: (last value, its time in µs)} and {window seconds: {series id: Window}}."""

    latest: dict[int, tuple[float, int]]
    windows: dict[int, dict[int, Window]]


def _window_columns(windows: int, inside: str, count: str, total: str, low: str, high: str) -> list[str]:
    """Count, sum, min and max of each window: `inside` is its condition ({index}: the window's)."""
    columns = []
    for index in range(windows):
        where = inside.format(index=index)
        columns += [
            f"SUM(CASE WHEN {where} THEN {count} ELSE 0 END)",
            f"SUM(CASE WHEN {where} THEN {total} ELSE 0 END)",
            f"MIN(CASE WHEN {where} THEN {low} END)",
            f"MAX(CASE WHEN {where} THEN {high} END)",
        ]
    return columns


def _sql(windows: list[int]) -> str:
    q = connection.ops.quote_name
    columns = [f"MAX(CASE WHEN step = 0 THEN {q('last')} END)", "MAX(CASE WHEN step = 0 THEN last_ts END)"]
    columns += _window_columns(
        len(windows), "step = 60 AND bucket >= %(since{index})s", q("count"), q("sum"), q("min"), q("max")
    )
    # The ids are integers from the catalog, written in: 2,000 placeholders cost more to bind than the query.
    return (
        f"SELECT series_id, {', '.join(columns)} FROM {q(Rollup._meta.db_table)}"
        # The upper bound lets MySQL prune the minute tier to the partitions holding the window.
        " WHERE series_id IN ({ids})"
        " AND ((step = 0 AND bucket = 0) OR (step = 60 AND bucket >= %(oldest)s AND bucket <= %(now)s))"
        " GROUP BY series_id ORDER BY NULL"
    )


def _raw_sql(windows: list[int]) -> str:
    """`_sql`'s windows over raw samples: a sample counts where its minute's bucket would."""
    columns = _window_columns(len(windows), "ts >= %(raw_since{index})s", "1", "value", "value", "value")
    return (
        f"SELECT series_id, {', '.join(columns)} FROM {connection.ops.quote_name(Sample._meta.db_table)}"
        " WHERE series_id IN ({ids}) AND ts >= %(raw_from)s AND ts < %(raw_until)s"
        " GROUP BY series_id ORDER BY NULL"
    )


def _merge(found: dict[int, Window], series_id: int, count, total, low, high) -> None:
    if not count:
        return
    part = (int(count), float(total), float(low), float(high))  # MySQL sums integers as DECIMAL
    held = found.get(series_id)
    if held is not None:
        part = (held[0] + part[0], held[1] + part[1], min(held[2], part[2]), max(held[3], part[3]))
    found[series_id] = part


def read(ids: Iterable[int], windows: Iterable[int], now_seconds: int) -> Readings:
    """The latest value of every series, and its minute rollups over each window (seconds) back from now."""
    windows = sorted(set(windows))
    ids = sorted({int(i) for i in ids})
    found = Readings({}, {seconds: {} for seconds in windows})
    if not ids:
        return found
    params = {f"since{index}": now_seconds - seconds for index, seconds in enumerate(windows)}
    params["oldest"] = now_seconds - (windows[-1] if windows else 0)
    params["now"] = now_seconds
    template = _sql(windows)
    # Read first: the folder moves it in the transaction that fills the minutes below it.
    watermark = folded_until(connection) if windows else None
    if watermark is not None:
        minute_us = 60 * 1_000_000
        for index, seconds in enumerate(windows):  # a minute's bucket >= since <=> its samples' ts >= since, rounded up
            params[f"raw_since{index}"] = -(-(now_seconds - seconds) // 60) * minute_us
        params["raw_from"] = max(watermark, min(params[f"raw_since{i}"] for i in range(len(windows))))
        params["raw_until"] = (now_seconds // 60 + 1) * minute_us
        raw_template = _raw_sql(windows)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), IDS_PER_QUERY):
            chunk = ids[start : start + IDS_PER_QUERY]
            written = ", ".join(map(str, chunk))
            cursor.execute(template.replace("{ids}", written), params)
            for row in cursor.fetchall():
                series_id, last, last_ts = row[0], row[1], row[2]
                if last_ts is not None:
                    found.latest[series_id] = (float(last), int(last_ts))
                for index, seconds in enumerate(windows):
                    _merge(found.windows[seconds], series_id, *row[3 + 4 * index : 7 + 4 * index])
            if watermark is not None and params["raw_from"] < params["raw_until"]:
                cursor.execute(raw_template.replace("{ids}", written), params)
                for row in cursor.fetchall():
                    for index, seconds in enumerate(windows):
                        _merge(found.windows[seconds], row[0], *row[1 + 4 * index : 5 + 4 * index])
    return found
