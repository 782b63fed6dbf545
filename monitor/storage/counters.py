"""The counter readings rates start from, kept where every worker process sees them.

A rate is the change of a counter between two cycles of its source divided by
the time between them. Pool processes of one worker, and workers on other
machines (server status runs on whichever worker takes it), each take some of
a source's cycles, so a source's last readings are a CounterState row. A
cycle holds its sources' lock from before it reads until its samples and
readings are stored together; a beat cycle and a collect-now of the same
source therefore take turns, and each rate spans exactly the previous stored
cycle.
"""

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import cache
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from monitor.collection.collectors import Counters
from monitor.models import CounterState

# (source, key): ("host", MONITOR_HOSTNAME), ("mysql", "db-1:3306"), ...
SourceKey = tuple[str, str]

# How long a cycle waits for the cycle before it on SQLite. That one holds
# the lock for as long as its collectors take, and each of them has its own
# timeout (MONITOR_COLLECT_TIMEOUT); this only bounds a holder that is stuck.
# On MySQL the wait is bounded by innodb_lock_wait_timeout and the
# connection's read timeout.
FILE_LOCK_TIMEOUT = 30.0
FILE_LOCK_POLL = 0.01


@contextmanager
def locked_counters(sources: Sequence[SourceKey]) -> Iterator[dict[SourceKey, Counters]]:
    """Each source's readings from its last stored cycle ({} for none), locked until the block ends.

    Store the cycle inside the block: resource_bulk_create(..., counters=...)
    writes the readings in the transaction that stores the samples.
    On MySQL/MariaDB the block is one transaction and the rows are locked with
    SELECT ... FOR UPDATE, so cycles queue on them from every machine. SQLite
    would lock the whole database for the block, and a server cycle may wait
    on the workers' replies for a second; since SQLite is a file on one
    machine, a file lock per source serializes its cycles there instead, and
    the collectors run outside any transaction.
    """
    if connection.features.has_select_for_update:
        with transaction.atomic():
            found = _lock_rows(sources)
            yield {source: found.get(source, {}) for source in sources}
    else:
        with _file_locks(sources):
            yield read_counters(sources)


def read_counters(sources: Sequence[SourceKey]) -> dict[SourceKey, Counters]:
    """Each source's readings from its last stored cycle ({} for none), without a lock: for a look only."""
    found = _read(sources)
    return {source: found.get(source, {}) for source in sources}


def _read(sources: Sequence[SourceKey], lock: bool = False) -> dict[SourceKey, Counters]:
    if not sources:
        return {}
    # Through the cursor: the ORM's query building cost more CPU than the query.
    with connection.cursor() as cursor:
        cursor.execute(
            _select_sql(connection.vendor, len(sources), lock), [part for source in sources for part in source]
        )
        return {(source, key): json.loads(readings) for source, key, readings in cursor.fetchall()}


@cache
def _select_sql(vendor: str, count: int, lock: bool) -> str:
    quote = connection.ops.quote_name
    table, source, key = quote(CounterState._meta.db_table), quote("source"), quote("key")
    where = " OR ".join([f"({source} = %s AND {key} = %s)"] * count)
    return f"SELECT {source}, {key}, {quote('readings')} FROM {table} WHERE {where}" + (
        f" {connection.ops.for_update_sql()}" if lock else ""
    )


def _lock_rows(sources: Sequence[SourceKey]) -> dict[SourceKey, Counters]:
    readings = _read(sources, lock=True)
    missing = [source for source in sources if source not in readings]
    if missing:
        # A source's first cycle (or one after an outage) may have no row to
        # lock: create it. A first cycle running at the same time waits on the
        # new row until this transaction ends, then reads what it stored.
        CounterState.objects.bulk_create(
            [CounterState(source=s, key=k, readings={}, taken_at=timezone.now()) for s, k in missing],
            ignore_conflicts=True,
        )
        readings.update(_read(missing, lock=True))
    return readings


@contextmanager
def _file_locks(sources: Sequence[SourceKey]) -> Iterator[None]:
    with ExitStack() as stack:
        # One order everywhere, so two cycles never wait on each other.
        for source in sorted(set(sources)):
            stack.enter_context(_file_lock(_lock_path(source)))
        yield


def _lock_path(source: SourceKey) -> Path:
    # Named after the database file and the source: every process that opens
    # this SQLite file on this machine finds the same lock.
    database = str(Path(connection.settings_dict["NAME"]).resolve())
    digest = hashlib.sha256("\0".join([database, *source]).encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / f"db_django-counters-{digest}.lock"


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    import fcntl  # POSIX only; the web process on another platform never takes a cycle

    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        # Readable by all: a worker running as another user (or manage.py
        # collect) only needs to open it to take the lock.
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + FILE_LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"counter lock {path} held for more than {FILE_LOCK_TIMEOUT:g} s") from None
                time.sleep(FILE_LOCK_POLL)
        yield
    finally:
        os.close(fd)  # releases the lock
