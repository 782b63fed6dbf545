"""Writes of Resource rows, shared by the API and the Celery tasks."""

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .collectors import Sample
from .models import CollectionCycle, Host, Resource

# Rows per INSERT statement: large enough to amortise round trips, small enough
# to stay far below MySQL's max_allowed_packet.
INSERT_BATCH_SIZE = 1000


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
    rows = [Resource(name=s.name, value=s.value, description=s.description, timestamp=at, host=host) for s in samples]
    with transaction.atomic():
        if cycle_id is not None:
            try:
                with transaction.atomic():
                    CollectionCycle.objects.create(task_id=cycle_id, host=host, stored_at=at, rows=len(rows))
            except IntegrityError:
                return 0  # this cycle was stored by an earlier delivery of the same task
        Resource.objects.bulk_create(rows, batch_size=INSERT_BATCH_SIZE)
        if host:
            host_seen(host, at)
    return len(rows)


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
