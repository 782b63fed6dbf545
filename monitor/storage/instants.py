"""Instants as samples store them: whole microseconds since 1970-01-01 UTC in a BIGINT."""

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def to_us(value: datetime) -> int:
    """An aware datetime -> microseconds since the epoch (exact: integer arithmetic)."""
    return (value - EPOCH) // MICROSECOND


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


# The instants a sample may hold: those a datetime, and so the API's ISO 8601, can say (years 1 to 9999).
MIN_US = to_us(datetime(1, 1, 1, tzinfo=UTC))
MAX_US = to_us(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
