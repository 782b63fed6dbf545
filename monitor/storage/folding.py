"""Minute and hour rollups folded a minute at a time after the samples are written, on MySQL.

Folding every sample into its minute and hour buckets as it is written costs
MariaDB two row upserts per sample, three times what the sample's own row
costs (BENCHMARKS.md, "write cost"). Folded a minute later, six samples of a
series at a 10 s interval make one minute row and the hour row is touched
once a minute: the write keeps only the sample and the latest value.

The watermark (FoldWatermark, one row) says up to where the tiers hold every
sample. Its invariant: a minute or hour row holds exactly the samples of its
bucket that lie below the watermark.

- A write reads the watermark under a shared lock, first in its transaction;
  it folds its samples below the watermark at once (late arrivals) and leaves
  the others for the folder.
- The folder takes the row's exclusive lock (so it waits for the writers that
  read the old value, and new ones wait for it), folds the samples between
  the watermark and a minute boundary `ROLLUP_FOLD_DELAY` seconds ago, and
  moves the watermark there, in one transaction.
- Reads (queries.plan) take whole buckets below the watermark from the tiers
  and everything past it from the raw samples, so every answer stays what the
  raw samples give, whether the folder is late or not running at all.
- Edits (rollups.recompute) rebuild only buckets below the watermark; pruning
  never drops raw samples the folder has not folded (retention.py).

While the watermark is NULL (SQLite always; MySQL until the folder's first run
or with ROLLUP_FOLD_INLINE) every write folds its own samples, as before.
"""

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from monitor.models import FoldWatermark, Rollup, Sample

from .instants import to_us
from .rollups import TIERS, aggregate, write_buckets
from .transactions import write_transaction

MINUTE_US = 60 * 1_000_000
# The most one transaction folds: writers wait while it runs (about 0.2 s for a minute of 5,000
# series at a 10 s interval: bench/ingest.py), so a folder catching up does it a minute at a time.
MAX_SPAN_US = MINUTE_US
SERIES_PER_READ = 1000
# Every statement here runs on MySQL only (elsewhere the watermark is never read).
TABLE = f"`{FoldWatermark._meta.db_table}`"
READ_SQL = f"SELECT until_us FROM {TABLE} WHERE id = 1"
# MySQL's and MariaDB's shared-lock read (MySQL 8 also spells it FOR SHARE; MariaDB does not).
LOCK_FOR_WRITE_SQL = f"{READ_SQL} LOCK IN SHARE MODE"

TIDB_ENGINE = "django_tidb"
# How old this process's guess of the watermark may grow before it is read again (`watermark_hint`).
HINT_SECONDS = 10.0

logger = logging.getLogger(__name__)
# The watermark as this process last read it, and when (time.monotonic()).
_hint: tuple[int | None, float] = (None, -math.inf)


@dataclass
class FoldReport:
    """What one call of fold_pending did: the watermark before and after, and the samples folded."""

    before: int | None
    after: int | None
    samples: int = 0
    seconds: float = 0.0


_inline = ContextVar("fold_inline", default=False)


@contextmanager
def folded_in_the_write() -> Iterator[None]:
    """Writes inside fold every tier themselves, without reading the watermark.

    For migrations that store samples before the watermark's table exists
    (0010 copies the old table's rows through the write path).
    """
    token = _inline.set(True)
    try:
        yield
    finally:
        _inline.reset(token)


def watermark_in_use() -> bool:
    """Whether writes here read the watermark (MySQL, outside folded_in_the_write)."""
    return folds_after_the_write(connection) and not _inline.get()


def folds_after_the_write(using) -> bool:
    """Whether the database on `using` can fold after the write: MySQL and MariaDB.

    Not TiDB (django_tidb, a "mysql" vendor too): it takes no shared lock for
    LOCK IN SHARE MODE, and the watermark's protocol needs one. There the
    watermark stays NULL and every write folds its own samples.
    """
    return using.vendor == "mysql" and using.settings_dict["ENGINE"] != TIDB_ENGINE


def lock_for_write() -> int | None:
    """The watermark, read under a shared lock held to the end of the caller's transaction.

    Writers never wait for each other on it, only for a folder that is moving it.
    None: fold everything in the write (SQLite, or a watermark not set yet).
    """
    if not watermark_in_use():
        return None
    with connection.cursor() as cursor:
        return _remember(_read(cursor, LOCK_FOR_WRITE_SQL))


def watermark_hint() -> int | None:
    """The watermark as this process last read it, read again once that is HINT_SECONDS old.

    Only a guess, for choosing the single write's packet (inserts._write_in_one_trip):
    the watermark only moves forward (or to NULL), and the packet checks the guess
    under the write's shared lock, handing a sample it was wrong about to the careful path.
    """
    value, read_at = _hint
    if time.monotonic() - read_at <= HINT_SECONDS:
        return value
    with connection.cursor() as cursor:
        return _remember(_read(cursor, READ_SQL))


def forget_hint() -> None:
    """Read the watermark again before the next single write (tests: each starts on a new database)."""
    global _hint
    _hint = (None, -math.inf)


def folded_until(using) -> int | None:
    """The watermark as a read sees it on `using` (a connection): None, the tiers hold every sample."""
    if not folds_after_the_write(using):
        return None
    with using.cursor() as cursor:
        return _read(cursor, READ_SQL)


def fold_pending(now_us: int | None = None) -> FoldReport:
    """Fold what is due into the tiers and move the watermark, MAX_SPAN_US per transaction.

    The first run on a database whose watermark is NULL only sets it, past the
    newest sample stored (every one of those was folded by its write). With
    ROLLUP_FOLD_INLINE, a watermark left set is folded up to the newest sample
    and set back to NULL, so writes fold inline again without losing any.
    """
    started = time.perf_counter()
    if not folds_after_the_write(connection):
        return FoldReport(None, None)
    inline = settings.ROLLUP_FOLD_INLINE
    now_us = to_us(timezone.now()) if now_us is None else now_us
    target = (now_us - settings.ROLLUP_FOLD_DELAY * 1_000_000) // MINUTE_US * MINUTE_US
    report: FoldReport | None = None
    while True:
        with write_transaction(), connection.cursor() as cursor:
            cursor.execute(f"{READ_SQL} FOR UPDATE")
            row = cursor.fetchone()
            if row is None:  # the migration's row was removed by hand: start again
                cursor.execute(f"INSERT INTO {TABLE} (id, until_us) VALUES (1, NULL)")
                row = (None,)
            mark = row[0]
            if report is None:
                report = FoldReport(mark, mark)
            if mark is None:
                if not inline:
                    report.after = _start(cursor, now_us)
                break
            if inline:
                target = _past_newest(cursor)
            if target <= mark:
                if inline:
                    report.after = _move(cursor, None)
                break
            series = _series_since(cursor, mark)
            end = min(target, mark + MAX_SPAN_US)
            if end < target:  # catching up: jump over time no series has samples in
                end = min(target, max(end, _first_after(cursor, series, mark)))
            report.samples += _fold(cursor, series, mark, end)
            report.after = _move(cursor, end)
    report.seconds = time.perf_counter() - started
    return report


def _start(cursor, now_us: int) -> int:
    """Set the first watermark: a minute boundary past now and past every sample stored (all folded inline)."""
    start = _move(cursor, -(-max(now_us + MINUTE_US, _past_newest(cursor)) // MINUTE_US) * MINUTE_US)
    if start > now_us + 2 * MINUTE_US:
        logger.warning("rollups fold after the write from %d us on: a sample is dated that late", start)
    return start


def _past_newest(cursor) -> int:
    """The first minute boundary past the newest sample stored (0 when there is none)."""
    cursor.execute(f"SELECT MAX(last_ts) FROM {_quote(Rollup)} WHERE step = %s AND bucket = 0", [Rollup.LATEST])
    newest = cursor.fetchone()[0]
    return 0 if newest is None else (newest // MINUTE_US + 1) * MINUTE_US


def _read(cursor, sql: str) -> int | None:
    cursor.execute(sql)
    row = cursor.fetchone()
    return None if row is None else row[0]


def _remember(value: int | None) -> int | None:
    """Keep a watermark the write connection read as this process's guess (`watermark_hint`).

    Not what a read finds (`folded_until`): that may be a replica's, behind the primary.
    """
    global _hint
    _hint = (value, time.monotonic())
    return value


def _move(cursor, until: int | None) -> int | None:
    """Set the watermark (in the folder's transaction, which holds the row's exclusive lock)."""
    cursor.execute(f"UPDATE {TABLE} SET until_us = %s WHERE id = 1", [until])
    return until


def _first_after(cursor, series: list[int], since: int) -> int:
    """The minute boundary at or before the oldest sample of `series` at or past `since`; a year on when
    there is none. One index probe per series."""
    oldest = None
    for chunk in _chunks(series):
        cursor.execute(
            f"SELECT MIN(ts) FROM {_quote(Sample)} WHERE series_id IN ({', '.join(['%s'] * len(chunk))})"
            " AND ts >= %s GROUP BY series_id",
            [*chunk, since],
        )
        for (ts,) in cursor.fetchall():
            oldest = ts if oldest is None else min(oldest, ts)
    if oldest is None:
        return since + 366 * 86400 * 1_000_000
    return oldest // MINUTE_US * MINUTE_US


def _series_since(cursor, since: int) -> list[int]:
    """The series whose newest sample is at or past `since`: the only ones that can have samples there."""
    cursor.execute(
        f"SELECT series_id FROM {_quote(Rollup)} WHERE step = %s AND bucket = 0 AND last_ts >= %s ORDER BY series_id",
        [Rollup.LATEST, since],
    )
    return [series_id for (series_id,) in cursor.fetchall()]


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start : start + SERIES_PER_READ] for start in range(0, len(ids), SERIES_PER_READ)]


def _fold(cursor, series: list[int], since: int, until: int) -> int:
    """Add the samples of `series` in [since, until) to their minute and hour buckets; returns how many there were.

    `series`: those whose newest sample is at or past `since` (_series_since), the only
    ones that can have any: the samples of the others are not read.
    """
    folded = 0
    for chunk in _chunks(series):
        cursor.execute(
            f"SELECT series_id, ts, value FROM {_quote(Sample)}"
            f" WHERE series_id IN ({', '.join(['%s'] * len(chunk))}) AND ts >= %s AND ts < %s",
            [*chunk, since, until],
        )
        rows = cursor.fetchall()
        if not rows:
            continue
        folded += len(rows)
        buckets = [bucket for step in TIERS for bucket in aggregate(rows, step)]
        buckets.sort(key=lambda row: row[:3])
        write_buckets(buckets)
    return folded


def _quote(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)
