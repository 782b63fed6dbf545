"""Retention: delete Resource rows and collection-cycle markers older than a cutoff, in small batches.

A cycle marker (CollectionCycle, one per host and collection task: about 17,000
a day per host at the default 10 s interval) only guards against storing a redelivered task twice, which
happens within minutes; it goes with the samples of its cycle, at the same cutoff.

Plain functions so the Celery task and `manage.py prune` share one implementation.
Each batch is one short transaction (select up to `batch_size` ids, delete them by
primary key), so row locks are held for one batch only and the API and collectors
keep writing while a large backlog is pruned.
"""

import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connections, router
from django.db.models import Model
from django.utils import timezone

from monitor.models import CollectionCycle, Resource


def retention_cutoff(days: int, now: datetime | None = None) -> datetime:
    """The instant `days` days before `now`: rows stamped strictly before it are prunable."""
    if days < 1:
        raise ValueError(f"retention must be at least 1 day, got {days}")
    return (now or timezone.now()) - timedelta(days=days)


def count_prunable(older_than: datetime) -> int:
    """How many rows `prune_resources(older_than)` would delete (a range count on the (timestamp, id) index)."""
    return Resource.objects.filter(timestamp__lt=older_than).count()


def count_prunable_cycles(older_than: datetime) -> int:
    """How many markers `prune_cycles(older_than)` would delete (a range count on the stored_at index)."""
    return CollectionCycle.objects.filter(stored_at__lt=older_than).count()


def prune_resources(
    older_than: datetime,
    batch_size: int = 5000,
    pause: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Delete rows with timestamp < `older_than`, oldest first, `batch_size` rows per transaction.

    Two statements per batch: an index range read of the next ids, then one
    DELETE by primary key. Deleting by id (not by a timestamp range) means InnoDB
    locks exactly those rows, never a gap that concurrent inserts would wait on.
    `pause` seconds of sleep between batches leave room for other writers on a
    busy server. `progress` receives the running total after every batch.
    Returns the number of rows deleted.

    Called inside an atomic block, the batches share that outer transaction;
    the scheduled task and the command call it in autocommit mode.
    """
    return _delete_in_batches(Resource, "timestamp", older_than, batch_size, pause, progress)


def prune_cycles(older_than: datetime, batch_size: int = 5000, pause: float = 0.0) -> int:
    """Delete collection-cycle markers stored before `older_than`, as `prune_resources` does rows.

    Returns the number of markers deleted.
    """
    return _delete_in_batches(CollectionCycle, "stored_at", older_than, batch_size, pause, None)


def _delete_in_batches(
    model: type[Model],
    time_field: str,
    older_than: datetime,
    batch_size: int,
    pause: float,
    progress: Callable[[int], None] | None,
) -> int:
    """Delete `model` rows whose `time_field` < `older_than`, oldest first; see `prune_resources`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if pause < 0:
        raise ValueError(f"pause must not be negative, got {pause}")
    batch_size = min(batch_size, _max_ids_per_statement(model))
    prunable = model.objects.filter(**{f"{time_field}__lt": older_than}).order_by(time_field, "id")
    deleted = 0
    while True:
        ids = list(prunable.values_list("id", flat=True)[:batch_size])
        if not ids:
            break
        # Nothing points at these models and no delete signals are connected, so
        # the collector takes its fast path: one DELETE ... WHERE id IN (...), no fetch.
        count, _ = model.objects.filter(id__in=ids).delete()
        deleted += count
        if progress is not None:
            progress(deleted)
        if len(ids) < batch_size:
            break  # that was the tail; skip one empty range read
        if pause:
            time.sleep(pause)
    return deleted


def _max_ids_per_statement(model: type[Model]) -> int:
    """SQLite caps bound parameters per statement (999 on old builds); MySQL has no such cap."""
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "sqlite":
        return 1_000_000
    connection.ensure_connection()
    return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
