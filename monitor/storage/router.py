"""Reads that may be a few seconds old go to a MySQL read replica while it keeps up; everything else to the primary.

`DATABASE_REPLICA_URL` adds the `replica` database. Reads opt in: only inside a
function decorated with `replica_read` (the API's list, latest, series and hosts
reads, which the dashboards share) do reads of the REPLICATED models go to the
replica. Writes, edits and read-modify-write paths (the series catalog, the
conflict checks of a write), authentication, sessions and the admin never enter
that scope, so they stay on the primary, and so does any read path nobody has
declared tolerant of lag. `primary_reads()` keeps a read on the primary even
through a `replica_read` function, for a read whose answer decides a write.

The replica serves while it answers and its SHOW REPLICA STATUS shows both
replication threads running and Seconds_Behind_Master at most
DATABASE_REPLICA_MAX_LAG. Each process asks at most every
DATABASE_REPLICA_CHECK_INTERVAL seconds (monitor.database.Probe, on a connection
of its own with CHECK_BUDGET to answer); in between, every read uses the last
answer. A read that fails on the replica (it died or froze since the last
answer) marks it down and runs again on the primary.
"""

import functools
import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from monitor.collection.collectors.mysql import _first, _replica_status, _yes
from monitor.database import UNAVAILABLE, DatabaseState, Probe, classify
from monitor.deadline import describe

logger = logging.getLogger(__name__)

REPLICA = "replica"
# What the replica may serve: samples, their catalog, rollups and latest values, hosts, and the view over them.
REPLICATED = frozenset({"monitor.sample", "monitor.series", "monitor.rollup", "monitor.host", "monitor.resource"})
# Seconds the replica has to answer its status check (connect included); a frozen one counts as down after this.
CHECK_BUDGET = 0.5

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class _Scope:
    """Inside a replica_read: whether the replica may serve, and whether it has served a read yet."""

    replica_allowed: bool
    replica_used: bool = False


_scope: ContextVar[_Scope | None] = ContextVar("replica_read_scope", default=None)


class ReplicaRouter:
    """DATABASE_ROUTERS entry: replica reads inside replica_read, everything else on the primary."""

    def db_for_read(self, model, **hints) -> str | None:
        return REPLICA if _replica_serves(model) else None

    def db_for_write(self, model, **hints) -> str:
        # Never the database a row was read from: a row read on the replica is written on the primary.
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        same_data = {DEFAULT_DB_ALIAS, REPLICA}
        return True if {obj1._state.db, obj2._state.db} <= same_data else None

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool | None:
        # The replica gets every schema change through replication.
        return False if db == REPLICA else None


def replica_read(read: Callable[P, T]) -> Callable[P, T]:
    """Let `read` be served by the replica (when one is configured and keeps up), falling back to the primary.

    For reads that may be up to DATABASE_REPLICA_MAX_LAG seconds old: never for
    a read whose answer decides a write. Nested calls join the outermost one,
    which runs the whole read again on the primary if the replica fails it.
    """

    @functools.wraps(read)
    def on_replica(*args: P.args, **kwargs: P.kwargs) -> T:
        if _scope.get() is not None or REPLICA not in settings.DATABASES:
            return read(*args, **kwargs)
        scope = _Scope(replica_allowed=True)
        token = _scope.set(scope)
        try:
            return read(*args, **kwargs)
        except DatabaseError as exc:
            if not (scope.replica_used and _replica_failed(exc)):
                raise
        finally:
            _scope.reset(token)
        with primary_reads():
            return read(*args, **kwargs)

    return on_replica


@contextmanager
def primary_reads() -> Iterator[None]:
    """Every read inside goes to the primary, replica_read functions included: for a read that decides a write."""
    token = _scope.set(_Scope(replica_allowed=False))
    try:
        yield
    finally:
        _scope.reset(token)


def read_connection(model) -> BaseDatabaseWrapper:
    """The connection a raw-SQL read of `model` uses: the router's choice, as the ORM would make it."""
    return connections[router.db_for_read(model)]


def _replica_serves(model) -> bool:
    scope = _scope.get()
    if scope is None or not scope.replica_allowed or model._meta.label_lower not in REPLICATED:
        return False
    if REPLICA not in settings.DATABASES or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return False  # inside a transaction, reads see its own writes
    if not _keeps_up(replica_probe().check()):
        return False
    scope.replica_used = True
    return True


@functools.cache
def replica_probe() -> Probe:
    """This process's view of the replica, asked at most every DATABASE_REPLICA_CHECK_INTERVAL seconds."""
    return Probe(CHECK_BUDGET, ask_replica, reuse=settings.DATABASE_REPLICA_CHECK_INTERVAL)


def ask_replica() -> DatabaseState:
    """The replica's state from its replication status, on a short-lived connection with short timeouts."""
    import MySQLdb

    wrapper = connections[REPLICA]
    params = wrapper.get_connection_params()
    seconds = max(1, math.ceil(CHECK_BUDGET))  # whole seconds; the Probe's budget bounds the wait anyway
    params.update(connect_timeout=seconds, read_timeout=seconds, write_timeout=seconds)
    conn = MySQLdb.connect(**params)
    try:
        row = _replica_status(conn.cursor(), f"{params.get('host')}:{params.get('port')}")
    finally:
        conn.close()
    return judge(row, settings.DATABASE_REPLICA_MAX_LAG)


def judge(row: dict | None, max_lag: float) -> DatabaseState:
    """`ok`, `lagging` or `stopped` from a SHOW REPLICA/SLAVE STATUS row (None: the server replicates nothing)."""
    if row is None:
        return DatabaseState(
            "stopped", "not a replica (empty replication status, or no REPLICATION CLIENT / SLAVE MONITOR privilege)"
        )
    io_thread = _first(row, "Slave_IO_Running", "Replica_IO_Running")
    sql_thread = _first(row, "Slave_SQL_Running", "Replica_SQL_Running")
    if not (_yes(io_thread) and _yes(sql_thread)):
        # A stopped I/O thread (primary unreachable) leaves the lag looking small while the replica falls behind.
        error = _first(row, "Last_SQL_Error", "Last_IO_Error") or ""
        return DatabaseState("stopped", f"not replicating: I/O thread {io_thread}, SQL thread {sql_thread} {error}")
    lag = _first(row, "Seconds_Behind_Master", "Seconds_Behind_Source")
    if lag is None:
        return DatabaseState("stopped", "not replicating: lag unknown (Seconds_Behind_Master is NULL)")
    if float(lag) > max_lag:
        return DatabaseState("lagging", f"{lag} s behind the primary (DATABASE_REPLICA_MAX_LAG={max_lag:g})")
    return DatabaseState("ok")


_last_state = DatabaseState("ok")


def _keeps_up(state: DatabaseState) -> bool:
    """Whether `state` lets the replica serve; logs when reads move off or back onto it."""
    global _last_state
    if state.state != _last_state.state:
        if state.state == "ok":
            logger.info("read replica keeps up again: it serves reads")
        else:
            logger.warning("read replica %s (%s): reads go to the primary", state.state, state.error)
    _last_state = state
    return state.state == "ok"


def _replica_failed(exc: DatabaseError) -> bool:
    """Whether `exc` is the replica failing to answer; if so it is marked down (until its next check) and closed."""
    fault = classify(exc)
    wrapper = connections[REPLICA]
    if fault is None or fault.kind != UNAVAILABLE or not wrapper.errors_occurred:
        return False
    replica_probe().report(DatabaseState("down", describe(exc)))
    _keeps_up(DatabaseState("down", describe(exc)))
    try:
        wrapper.close()
    except DatabaseError:
        pass  # already gone
    return True
