"""The numbers rules compare: each series' latest value and its minute rollups over a window, in batches.

Never reads raw samples: one statement per chunk of series for the latest
values (step 0), and one per (window, chunk) for the minute tier (step 60),
whatever the number of rules sharing that window. The minute buckets read
are those starting at or after now - window; the latest row says whether
the series has data in the window at all (its `last_ts`), and stands in for
the aggregate when no minute bucket has started inside a short window yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from monitor.models import Rollup

# Series per statement (the IN list): the same bound the storage reads use.
IDS_PER_QUERY = 2000
US = 1_000_000


@dataclass(frozen=True, slots=True)
class Window:
    """Minute rollups of one series over a window, merged."""

    count: int
    total: float
    low: float
    high: float

    def value(self, lookup: str) -> float:
        if lookup == "min":
            return self.low
        if lookup == "max":
            return self.high
        return self.total / self.count if self.count else self.total


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), IDS_PER_QUERY):
        yield ids[start : start + IDS_PER_QUERY]


def latest(ids: Iterable[int]) -> dict[int, tuple[float, int]]:
    """{series id: (last value, its time in µs)} from the step-0 rows."""
    table = connection.ops.quote_name(Rollup._meta.db_table)
    found: dict[int, tuple[float, int]] = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(sorted(set(ids))):
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT series_id, {connection.ops.quote_name('last')}, last_ts FROM {table}"
                f" WHERE step = %s AND bucket = 0 AND series_id IN ({marks})",
                [Rollup.LATEST, *chunk],
            )
            for series_id, last, last_ts in cursor.fetchall():
                found[series_id] = (float(last), int(last_ts))
    return found


def windows(ids: Iterable[int], since_seconds: int) -> dict[int, Window]:
    """{series id: merged minute rollups of buckets starting at or after `since_seconds`}."""
    table = connection.ops.quote_name(Rollup._meta.db_table)
    q = connection.ops.quote_name
    found: dict[int, Window] = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(sorted(set(ids))):
            marks = ", ".join(["%s"] * len(chunk))
            # ORDER BY NULL: MySQL would sort the groups for nothing.
            cursor.execute(
                f"SELECT series_id, SUM({q('count')}), SUM({q('sum')}), MIN({q('min')}), MAX({q('max')})"
                f" FROM {table} WHERE step = %s AND series_id IN ({marks}) AND bucket >= %s"
                " GROUP BY series_id ORDER BY NULL",
                [Rollup.MINUTE, *chunk, int(since_seconds)],
            )
            for series_id, count, total, low, high in cursor.fetchall():
                if count:
                    # MySQL sums integers as DECIMAL
                    found[series_id] = Window(int(count), float(total), float(low), float(high))
    return found
