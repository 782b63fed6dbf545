"""Writes of Resource rows, shared by the API and the Celery tasks."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from monitor.collection.collectors import Sample
from monitor.models import CollectionCycle, Host, Resource

# mysqlclient splits an executemany into INSERTs of at most this many bytes (its
# own default is 64 KiB). A request is bounded by DATA_UPLOAD_MAX_MEMORY_SIZE
# (2.5 MB), so a bulk POST goes as one statement, well below MySQL's
# max_allowed_packet (16 MiB by default on MariaDB, 64 MiB on MySQL 8).
MAX_STATEMENT_BYTES = 8 * 1024 * 1024

# A row as insert_resources() takes it, in INSERT_COLUMNS order.
ResourceRow = tuple[str, float, str, datetime, str]
INSERT_COLUMNS = ("name", "value", "description", "timestamp", "host")


def resource_bulk_create(
    samples: Iterable[Sample], host: str, timestamp: datetime | None = None, cycle_id: str | None = None
) -> int:
    """Store one collection cycle as Resource rows in one multi-row INSERT.

    Every row of a cycle shares one timestamp so a dashboard can line them up.
    With `cycle_id` (the Celery task id) a cycle is stored at most once per
    host: the marker row and the samples commit together, so a redelivered
    task finds the marker and stores nothing. Returns the rows stored.
    """
    at = timestamp or timezone.now()
    rows = [(s.name, s.value, s.description, at, host) for s in samples]
    with transaction.atomic():
        if cycle_id is not None:
            try:
                with transaction.atomic():
                    CollectionCycle.objects.create(task_id=cycle_id, host=host, stored_at=at, rows=len(rows))
            except IntegrityError:
                return 0  # this cycle was stored by an earlier delivery of the same task
        insert_resources(rows)
        if host:
            host_seen(host, at)
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
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.cursor.cursor.max_stmt_length = MAX_STATEMENT_BYTES  # Django's wrapper, then MySQLdb's cursor
        cursor.executemany(_insert_sql(connection.vendor), _parameters(rows))


def insert_resource(row: ResourceRow) -> int:
    """INSERT one row of (name, value, description, timestamp, host); returns its id.

    The API's single POST: one statement through the cursor instead of
    Model.save(), whose machinery around the INSERT cost more CPU than the
    INSERT (bench/post_one.py). Autocommit makes it its own transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor), _parameters([row])[0])
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


@cache
def _insert_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Resource._meta.get_field(name).column) for name in INSERT_COLUMNS)
    placeholders = ", ".join(["%s"] * len(INSERT_COLUMNS))
    return f"INSERT INTO {quote(Resource._meta.db_table)} ({columns}) VALUES ({placeholders})"


def host_seen(name: str, at: datetime) -> None:
    """Record that `name` reported at `at`: one upsert, first_seen kept."""
    # MySQL's ON DUPLICATE KEY UPDATE takes no conflict target (Django refuses
    # one there); SQLite's ON CONFLICT requires it.
    target = ["name"] if connection.features.supports_update_conflicts_with_target else None
    Host.objects.bulk_create(
        [Host(name=name, first_seen=at, last_seen=at)],
        update_conflicts=True,
        unique_fields=target,
        update_fields=["last_seen"],
    )
