"""Writes: samples in, with their series, rollups, latest values and hosts, all or nothing.

The one write path of the application: the API (one sample or a batch), the
collection tasks and the other ingest protocols all call `store`. One batch
costs a read of the fold watermark under a shared lock (folding.py), one
INSERT of its samples, one upsert of their latest values and of the minute and
hour buckets of those below the watermark (on MySQL the folder adds the
others a minute later) and, at most once a second per host, one upsert of the
host; series the process has not seen yet cost one more INSERT and SELECT. On MySQL
a single sample (the notes' curl POST, an agent's one reading) goes as one
packet of statements, its transaction and host included: one round trip.

A sample whose series already has a sample at that instant is a repeat: the
same value is skipped (an agent resending a batch after a timeout stores
nothing twice), a different value is a conflict and the whole batch is refused.
"""

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import TypeVar

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.utils import timezone

from monitor.collection.collectors import Counters
from monitor.collection.collectors import Sample as CollectedSample
from monitor.models import CollectionCycle, CounterState, Host, Sample

from .bulk import insert_numbers, numbers_statement
from .catalog import series_ids
from .counters import SourceKey
from .folding import LOCK_FOR_WRITE_SQL, lock_for_write, watermark_hint, watermark_in_use
from .instants import from_us, to_us
from .rollups import fold, fold_sql, inline_fold_sql, latest_sql
from .transactions import roll_back, write_transaction

# A host's last_seen is written at most this often per process (samples
# arrive many times a second from agents; staleness is judged in tens of seconds).
HOST_SEEN_RESOLUTION_US = 1_000_000
DUPLICATE_KEY = 1062  # MySQL's error for an INSERT that meets a stored primary key
BAD_NULL = 1048  # MySQL's error for a NULL in a NOT NULL column: rollups.latest_sql's check failed
LOCK_RETRIES = 3  # a write that meets a deadlock or a lock wait timeout is tried again this many times
DEADLOCK, LOCK_WAIT_TIMEOUT = 1213, 1205
# Rounds of moving server-timed samples past instants found stored (each round moves them
# past every instant seen so far; two rounds are already rare: it takes another writer
# storing the very microsecond a sample was just moved to).
MAX_MOVES = 10
NO_FREE_INSTANT = "No free instant was found for this sample: too many other samples of its series arrived at once."

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Keys checked per statement when a batch holds repeats (bound parameters stay well under SQLite's limit).
LOOKUP_CHUNK = 400
SAMPLE_COLUMNS = ("series_id", "ts", "value")
SAMPLE_FORMAT = "(%d,%d,%r)"  # one row of SAMPLE_COLUMNS as storage/bulk.py writes numbers
# The largest magnitude a sample may have. Rollups add values up: two samples near
# the double's limit (1.8e308) in one bucket would overflow its sum, and MySQL
# refuses an overflowing DOUBLE, so every later write of that series in that
# bucket would fail. At 1e300, a bucket would need 1.8e8 samples to overflow.
MAX_ABS_VALUE = 1e300


@dataclass(slots=True)
class Point:
    """A sample on its way in: which series (host, name), when (microseconds since the epoch), what value.

    Not frozen: a frozen dataclass sets each field through object.__setattr__, which made
    creating one 1.7 us against 0.25 (Python 3.11), paid once per sample on every ingest path.
    """

    name: str
    host: str
    ts: int
    value: float
    description: str = ""
    # The server chose `ts` (the sample came without a timestamp). Such a sample never
    # clashes: where its series already holds that instant, in the batch or stored, it
    # moves to the next free microsecond instead of being a repeat or a conflict.
    server_timed: bool = False


class Conflict(Exception):
    """Samples of a series at an instant that already holds another value; `items` maps point index -> message."""

    def __init__(self, items: dict[int, str]):
        super().__init__(items)
        self.items = items


class _Repeats(Exception):
    """The fast path met samples already stored, or (the one-sample packet) a watermark already past
    its sample: redo the batch on the careful path."""


class _Raced(OperationalError):
    """Another writer stored some of the same samples between the careful path's check and its INSERT.

    Retried like a deadlock (the same error number): the next try finds them stored."""

    def __init__(self):
        super().__init__(DEADLOCK, "samples stored concurrently")


class _Taken(Exception):
    """Instants chosen by the server for some samples are stored already: move those samples and write again."""

    def __init__(self, keys: set[tuple[int, int]]):
        super().__init__(keys)
        self.keys = keys


class _Clashes(Exception):
    """Conflicts found on the careful path, by position in the sorted rows; `store` names them by point."""

    def __init__(self, in_batch: dict[int, int], stored: dict[int, float]):
        super().__init__(in_batch, stored)
        self.in_batch, self.stored = in_batch, stored


def store(points: Sequence[Point]) -> list[tuple[int, int]]:
    """Store `points` (all, or none on Conflict); returns the (series id, ts) key of each, in order.

    Repeats of stored samples are skipped but still get their key. The series
    are resolved first, outside the write's transaction: creating a catalog
    row commits on its own (the ORM manages that statement), and a series
    without samples is harmless if the write then fails. A server-timed point
    may be stored later than its `ts` (see Point): its key says where.
    """
    if not points:
        return []
    ids = series_ids((p.host, p.name, p.description) for p in points)
    keys = [(ids[(p.host, p.name)], p.ts) for p in points]
    server_timed = [index for index, p in enumerate(points) if p.server_timed]
    taken: set[tuple[int, int]] = set()
    _move_server_timed(keys, server_timed, taken)
    moves = 0
    while True:
        # float(): the numeric multi-row statements (storage/bulk.py) write values with repr()
        # Key order: concurrent writes then lock shared rows (a series' latest value, its
        # current buckets, a host) in the same order, so they wait for each other instead of
        # deadlocking; a deadlock or lock wait that still happens is retried whole.
        rows = sorted((series_id, ts, float(p.value)) for (series_id, ts), p in zip(keys, points, strict=True))
        try:
            retrying(partial(_write_once, rows, points, {keys[index] for index in server_timed}))
            return keys
        except _Taken as exc:
            moves += 1
            if moves > MAX_MOVES:
                raise Conflict({i: NO_FREE_INSTANT for i in server_timed if keys[i] in exc.keys}) from None
            taken |= exc.keys
            _move_server_timed(keys, server_timed, taken)
        except _Clashes as exc:
            raise _conflict(exc, rows, keys, points) from None


def retrying(write: Callable[[], T]) -> T:
    """`write()` (a whole transaction), again after a deadlock or a lock wait timeout, at most LOCK_RETRIES times.

    Not inside a caller's transaction: that one was rolled back with the error,
    and only its owner can run it again.
    """
    retries = 0
    while True:
        try:
            return write()
        except OperationalError as exc:
            if exc.args[:1] not in ((DEADLOCK,), (LOCK_WAIT_TIMEOUT,)) or retries == LOCK_RETRIES:
                raise
            if connection.in_atomic_block:
                raise
            retries += 1
            logger.info("write retried after %s (retry %d)", exc.args[1] if len(exc.args) > 1 else exc, retries)
            time.sleep(random.uniform(0.005, 0.05) * retries)


def _move_server_timed(keys: list[tuple[int, int]], server_timed: list[int], taken: set[tuple[int, int]]) -> None:
    """Give each server-timed point an instant of its series that no other point of the batch and
    nothing in `taken` (found stored) holds, moving it forward by whole microseconds in batch order."""
    if not server_timed:
        return
    chosen = set(server_timed)
    used = {key for index, key in enumerate(keys) if index not in chosen} | taken
    for index in server_timed:
        series_id, ts = keys[index]
        while (series_id, ts) in used:
            ts += 1
        keys[index] = (series_id, ts)
        used.add((series_id, ts))


def _conflict(
    clashes: _Clashes, rows: list[tuple[int, int, float]], keys: list[tuple[int, int]], points: Sequence[Point]
) -> Conflict:
    """The careful path's clashes (positions in the sorted rows) as a Conflict naming the points by their index."""
    where: dict[tuple[int, float], list[int]] = {}
    for index, (key, point) in enumerate(zip(keys, points, strict=True)):
        where.setdefault((key, float(point.value)), []).append(index)

    def point_index(position: int) -> int:
        series_id, ts, value = rows[position]
        return where[((series_id, ts), value)][0]

    items = {
        point_index(position): f"Another value for this series and timestamp is in the same batch "
        f"(item {point_index(first)})."
        for position, first in clashes.in_batch.items()
    }
    for position, value in clashes.stored.items():
        items[point_index(position)] = (
            f"A different value ({value!r}) is already stored for this series at this timestamp."
        )
    return Conflict(dict(sorted(items.items())))


def _write_once(rows: list[tuple[int, int, float]], points: Sequence[Point], must_be_new: set[tuple[int, int]]) -> None:
    """One transaction on the fast path; again on the careful path when it met samples already stored."""
    try:
        if _one_trip(rows):
            _write_in_one_trip(rows, points)
        else:
            with write_transaction():
                _write(rows, points, careful=False)
    except _Repeats:
        with write_transaction():
            _write(rows, points, careful=True, must_be_new=must_be_new)


def _one_trip(rows: Sequence[tuple[int, int, float]]) -> bool:
    """A single sample on MySQL, outside a caller's transaction: one round trip will do."""
    return len(rows) == 1 and connection.vendor == "mysql" and not connection.in_atomic_block


def _write_in_one_trip(rows: Sequence[tuple[int, int, float]], points: Sequence[Point]) -> None:
    """The fast path as one packet of statements: the transaction, the sample, its fold (which reads the
    fold watermark under its lock: `_fold_in_packet`), its host, the commit.

    Four or five round trips cost a single POST more than its sample did
    (BENCHMARKS.md). The sample goes in by a plain INSERT: one already stored
    fails it with a duplicate key, and a sample the folder has already passed
    fails the fold's check (rollups.latest_sql); MySQL runs nothing of the packet
    after a failed statement, and the write is rolled back and redone on the careful path.
    """
    insert = numbers_statement(
        _statement(connection.vendor, Sample, SAMPLE_COLUMNS, 1, None, (), ()), rows, SAMPLE_FORMAT
    )
    due = _hosts_due(points)
    with connection.cursor() as cursor:
        hosts = [cursor.mogrify(_hosts_sql(connection.vendor), row) for row in _host_rows(due)]
        packet = ";".join(["START TRANSACTION", insert, _fold_in_packet(rows[0]), *hosts, "COMMIT"])
        try:
            with connection.wrap_database_errors:  # nextset() is the driver's own: its errors become Django's here
                cursor.execute(packet)  # no parameters: nothing in it is a placeholder
                results = cursor.cursor.cursor  # the driver's cursor: Django's wrappers add nothing to nextset()
                while results.nextset() is not None:  # a statement that failed raises here
                    pass
        except BaseException as exc:
            roll_back(cursor)  # the failed statement left the transaction open
            if isinstance(exc, IntegrityError) and exc.args[:1] in ((DUPLICATE_KEY,), (BAD_NULL,)):
                raise _Repeats from None
            raise
    _host_written.update(due)


def _fold_in_packet(sample: tuple[int, int, float]) -> str:
    """The single sample's fold: its latest value alone where this process saw the watermark at or
    below it (checked by the statement), else every tier the watermark it reads leaves to the write."""
    if not watermark_in_use():
        return inline_fold_sql([sample])
    seen = watermark_hint()
    if seen is not None and sample[1] >= seen:
        return latest_sql(sample, LOCK_FOR_WRITE_SQL)
    return fold_sql(sample, LOCK_FOR_WRITE_SQL)


def _write(
    rows: list[tuple[int, int, float]],
    points: Sequence[Point],
    careful: bool,
    must_be_new: set[tuple[int, int]] = frozenset(),
) -> None:
    watermark = lock_for_write()  # first: the folder waits for this write, or it for the folder
    if careful:
        rows = _new_only(rows, must_be_new)
    inserted = _insert_samples(rows)
    if inserted != len(rows):
        if careful:  # another writer stored some of them meanwhile: try again from the start
            raise _Raced
        raise _Repeats
    fold(rows, watermark)
    _hosts_seen(points)


def _insert_samples(rows: Sequence[tuple[int, int, float]]) -> int:
    sql = _statement(connection.vendor, Sample, SAMPLE_COLUMNS, 1, OnConflict.IGNORE, (), ())
    return insert_numbers(sql, rows, SAMPLE_FORMAT)


def _new_only(
    rows: list[tuple[int, int, float]], must_be_new: set[tuple[int, int]] = frozenset()
) -> list[tuple[int, int, float]]:
    """The rows not stored yet. Raises _Taken when a key of `must_be_new` is stored, and _Clashes
    for an instant that holds another value, in the batch or stored."""
    first: dict[tuple[int, int], tuple[int, float]] = {}
    in_batch: dict[int, int] = {}
    for position, (series_id, ts, value) in enumerate(rows):
        seen = first.setdefault((series_id, ts), (position, value))
        if seen[1] != value:
            in_batch[position] = seen[0]
    stored = _stored_values(list(first))
    taken = must_be_new & stored.keys()
    if taken:
        raise _Taken(taken)
    fresh = []
    stored_clashes: dict[int, float] = {}
    for (series_id, ts), (position, value) in first.items():
        if (series_id, ts) not in stored:
            fresh.append((series_id, ts, value))
        elif stored[(series_id, ts)] != value:
            stored_clashes[position] = stored[(series_id, ts)]
    if in_batch or stored_clashes:
        raise _Clashes(in_batch, stored_clashes)
    return fresh


def _stored_values(keys: list[tuple[int, int]]) -> dict[tuple[int, int], float]:
    found: dict[tuple[int, int], float] = {}
    table = connection.ops.quote_name(Sample._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            pairs = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                f"SELECT series_id, ts, value FROM {table} WHERE (series_id, ts) IN ({pairs})",
                [part for key in chunk for part in key],
            )
            found.update({(series_id, ts): value for series_id, ts, value in cursor.fetchall()})
    return found


_host_written: dict[str, int] = {}


def _hosts_seen(points: Iterable[Point]) -> None:
    """Record when each host last sent something, at most once a second per host and process.

    A sample dated in the future (an agent whose clock runs ahead) counts as seen
    now: otherwise the host would stay fresh for as long as its clock is ahead.
    """
    due = _hosts_due(points)
    if not due:
        return
    with connection.cursor() as cursor:
        cursor.executemany(_hosts_sql(connection.vendor), _host_rows(due))
    _host_written.update(due)


def _host_rows(due: Mapping[str, int]) -> list[tuple]:
    """(name, first_seen, last_seen) parameters of the hosts upsert, in name order (locks taken alike)."""
    adapt = connection.ops.adapt_datetimefield_value
    return [(host, adapt(from_us(ts)), adapt(from_us(ts))) for host, ts in sorted(due.items())]


def _hosts_due(points: Iterable[Point]) -> dict[str, int]:
    """The hosts of `points` whose last_seen this process has not written within a second, with the instant to write."""
    arrived = to_us(timezone.now())
    newest: dict[str, int] = {}
    for point in points:
        if point.host and point.ts > newest.get(point.host, -(2**62)):
            newest[point.host] = min(point.ts, arrived)
    return {
        host: ts for host, ts in newest.items() if ts - _host_written.get(host, -(2**62)) >= HOST_SEEN_RESOLUTION_US
    }


def forget_hosts() -> None:
    """Forget which hosts this process recorded lately (tests that reset the database)."""
    _host_written.clear()


def host_seen(name: str, at: datetime) -> None:
    """Record that `name` reported at `at` (first_seen kept, last_seen only moves forward)."""
    _host_written.pop(name, None)
    _hosts_seen([Point("", name, to_us(at), 0.0)])


@cache
def _hosts_sql(vendor: str) -> str:
    """Upsert of (name, first_seen, last_seen) whose last_seen only ever moves forward."""
    table = connection.ops.quote_name(Host._meta.db_table)
    insert = f"INSERT INTO {table} (name, first_seen, last_seen) VALUES (%s, %s, %s)"
    if vendor == "mysql":
        return f"{insert} ON DUPLICATE KEY UPDATE last_seen = GREATEST(last_seen, VALUES(last_seen))"
    return f"{insert} ON CONFLICT (name) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)"


def resource_bulk_create(
    samples: Iterable[CollectedSample],
    host: str,
    timestamp: datetime | None = None,
    cycle_id: str | None = None,
    counters: Mapping[SourceKey, Counters] | None = None,
) -> int:
    """Store one collection cycle: every sample of it shares one timestamp and the worker's host.

    With `cycle_id` (the Celery task id) a cycle is stored at most once per
    host: the marker row and the samples commit together, so a redelivered
    task finds the marker and stores nothing. `counters`, the cycle's counter
    readings by source, are stored with it (and only if it is stored): the
    next cycle's rates start from them. Returns the samples stored.
    """
    at = timestamp or timezone.now()
    ts = to_us(at)
    points = [Point(s.name, host, ts, s.value, s.description) for s in samples]
    # No savepoint around the marker: any failure abandons the whole cycle (and the
    # caller's transaction, which holds the counter locks), and each one costs a round trip.
    with transaction.atomic(savepoint=False):
        if cycle_id is not None:
            marker = (cycle_id, host, at, len(points))
            if not _insert(CollectionCycle, ("task_id", "host", "stored_at", "rows"), [marker], OnConflict.IGNORE):
                return 0  # this cycle was stored by an earlier delivery of the same task
        store(points)
        if counters:
            save_counters(counters, at)
    return len(points)


def save_counters(readings: Mapping[SourceKey, Counters], at: datetime) -> None:
    """Write the counter readings of the cycle stored at `at`: one upsert for all its sources.

    Call it in the transaction that stores the cycle's samples, so readings
    and samples are stored together or not at all.
    """
    _insert(
        CounterState,
        ("source", "key", "readings", "taken_at"),
        [(source, key, json.dumps(counters), at) for (source, key), counters in readings.items()],
        OnConflict.UPDATE,
        ("readings", "taken_at"),
        ("source", "key"),
    )


def _insert(
    model: type[Model],
    fields: tuple[str, ...],
    rows: Sequence[tuple],
    on_conflict: OnConflict | None = None,
    update: tuple[str, ...] = (),
    unique: tuple[str, ...] = (),
) -> int:
    """One INSERT of `rows` (values in `fields` order) through the cursor; returns the rows it changed.

    A few rows per cycle, where the ORM's bulk_create cost more CPU in
    building the statement than the database took to run it. With
    OnConflict.IGNORE a row whose unique key exists is left alone (0 rows);
    with OnConflict.UPDATE its `update` fields are overwritten.
    """
    adapt = connection.ops.adapt_datetimefield_value
    params = [adapt(v) if isinstance(v, datetime) else v for row in rows for v in row]
    sql = _statement(connection.vendor, model, fields, len(rows), on_conflict, update, unique)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@cache
def _statement(
    vendor: str,
    model: type[Model],
    fields: tuple[str, ...],
    count: int,
    on_conflict: OnConflict | None,
    update: tuple[str, ...],
    unique: tuple[str, ...],
) -> str:
    ops, meta = connection.ops, model._meta
    columns = [meta.get_field(name).column for name in fields]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    suffix = ops.on_conflict_suffix_sql(
        [meta.get_field(name) for name in fields],
        on_conflict,
        [meta.get_field(name).column for name in update],
        [meta.get_field(name).column for name in unique],
    )
    return (
        f"{ops.insert_statement(on_conflict=on_conflict)} {ops.quote_name(meta.db_table)} "
        f"({', '.join(map(ops.quote_name, columns))}) VALUES {', '.join([row] * count)} {suffix}"
    )
