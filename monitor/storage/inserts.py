"""Writes of Resource rows, shared by the API and the Celery tasks, and what a cycle stores with them."""

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache

from django.db import connection, transaction
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.utils import timezone

from monitor.collection.collectors import Counters, Sample
from monitor.models import CollectionCycle, CounterState, Host, Resource

from .counters import SourceKey

# mysqlclient splits an executemany into INSERTs of at most this many bytes (its
# own default is 64 KiB). A request is bounded by DATA_UPLOAD_MAX_MEMORY_SIZE
# (2.5 MB), so a bulk POST goes as one statement, well below MySQL's
# max_allowed_packet (16 MiB by default on MariaDB, 64 MiB on MySQL 8).
MAX_STATEMENT_BYTES = 8 * 1024 * 1024

# A row as insert_resources() takes it, in INSERT_COLUMNS order.
ResourceRow = tuple[str, float, str, datetime, str]
INSERT_COLUMNS = ("name", "value", "description", "timestamp", "host")


def resource_bulk_create(
    samples: Iterable[Sample],
    host: str,
    timestamp: datetime | None = None,
    cycle_id: str | None = None,
    counters: Mapping[SourceKey, Counters] | None = None,
) -> int:
    """Store one collection cycle as Resource rows in one multi-row INSERT.

    Every row of a cycle shares one timestamp so a dashboard can line them up.
    With `cycle_id` (the Celery task id) a cycle is stored at most once per
    host: the marker row and the samples commit together, so a redelivered
    task finds the marker and stores nothing. `counters`, the cycle's counter
    readings by source, are stored with it (and only if it is stored): the
    next cycle's rates start from them. Returns the rows stored.
    """
    at = timestamp or timezone.now()
    rows = [(s.name, s.value, s.description, at, host) for s in samples]
    # No savepoints: any failure abandons the whole cycle (and the caller's
    # transaction, which holds the counter locks), and each one costs a round trip.
    with transaction.atomic(savepoint=False):
        if cycle_id is not None:
            marker = (cycle_id, host, at, len(rows))
            if not _insert(CollectionCycle, ("task_id", "host", "stored_at", "rows"), [marker], OnConflict.IGNORE):
                return 0  # this cycle was stored by an earlier delivery of the same task
        insert_resources(rows)
        if host:
            host_seen(host, at)
        if counters:
            save_counters(counters, at)
    return len(rows)


def insert_resources(rows: Sequence[ResourceRow]) -> None:
    """INSERT rows of (name, value, description, timestamp, host), all or none.

    Plain parameters through the database cursor instead of model instances:
    building and preparing a model object per row cost more CPU than the
    INSERT itself, which matters at a collection every second and in bulk
    ingest. The caller validated the values. On MySQL the rows go as one
    multi-row INSERT (up to MAX_STATEMENT_BYTES); SQLite runs one prepared
    statement per row.
    """
    if not rows:
        return
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.cursor.cursor.max_stmt_length = MAX_STATEMENT_BYTES  # Django's wrapper, then MySQLdb's cursor
        cursor.executemany(_statement(connection.vendor, Resource, INSERT_COLUMNS, 1, None, (), ()), _parameters(rows))


def insert_resource(row: ResourceRow) -> int:
    """INSERT one row of (name, value, description, timestamp, host); returns its id.

    The API's single POST: one statement through the cursor instead of
    Model.save(), whose machinery around the INSERT cost more CPU than the
    INSERT (bench/post_one.py). Autocommit makes it its own transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(_statement(connection.vendor, Resource, INSERT_COLUMNS, 1, None, (), ()), _parameters([row])[0])
        return connection.ops.last_insert_id(cursor, Resource._meta.db_table, Resource._meta.pk.column)


def resource_row(resource: Resource) -> ResourceRow:
    """An unsaved Resource, as the API's validation builds it, as the row the inserts take."""
    return (resource.name, resource.value, resource.description, resource.timestamp, resource.host)


def _parameters(rows: Sequence[ResourceRow]) -> list[tuple]:
    """The rows with their timestamps as the database backend stores them."""
    adapt = connection.ops.adapt_datetimefield_value
    # Rows mostly share one timestamp (a cycle, a request): adapt each once.
    adapted: dict[datetime, object] = {}
    params = []
    for name, value, description, at, host in rows:
        when = adapted.get(at)
        if when is None:
            when = adapted[at] = adapt(at)
        params.append((name, value, description, when, host))
    return params


def host_seen(name: str, at: datetime) -> None:
    """Record that `name` reported at `at`: one upsert, first_seen kept."""
    _insert(Host, ("name", "first_seen", "last_seen"), [(name, at, at)], OnConflict.UPDATE, ("last_seen",), ("name",))


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
