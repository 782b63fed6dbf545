"""Build stored samples for tests through the application's own write path (monitor/storage)."""

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from monitor.models import Sample
from monitor.storage.inserts import Point
from monitor.storage.instants import to_us
from monitor.storage.queries import Row, resource_row


def point(name: str, value: float, host: str = "", timestamp: datetime | None = None, description: str = "") -> Point:
    return Point(name, host, to_us(timestamp or timezone.now()), float(value), description)


def store(name: str, value: float, host: str = "", timestamp: datetime | None = None, description: str = "") -> Row:
    """Store one sample; returns it as the API shows it (monitor.storage.queries.Row)."""
    ((series_id, ts),) = Sample.objects.store([point(name, value, host, timestamp, description)])
    return resource_row(series_id, ts)


def store_many(points: Iterable[Point]) -> list[Row]:
    """Store samples in one write; returns them in the order given."""
    return [resource_row(series_id, ts) for series_id, ts in Sample.objects.store(list(points))]
