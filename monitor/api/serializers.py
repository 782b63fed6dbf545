"""JSON <-> Resource. Every rule about what a valid sample is lives here.

Writes go through `parse_samples`, a plain validator that costs a few
microseconds per sample, so one POST and a 5,000-sample batch are checked by the
same code; `ResourceSerializer` serves reads, updates, the browsable API and the
schema, with the same rules for `value`.
"""

import math
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from monitor.models import Resource

NAME_MAX = Resource._meta.get_field("name").max_length
HOST_MAX = Resource._meta.get_field("host").max_length
NOT_FINITE = "Must be a finite number (not NaN or Infinity)."
NOT_A_NUMBER = "A valid number is required."
BAD_TIMESTAMP = "Datetime has wrong format. Use ISO 8601, e.g. 2026-11-25T10:00:00.123456Z."
REQUIRED = "This field is required."
OUT_OF_RANGE = "Datetime value out of range."
SAMPLE_FIELDS = frozenset({"name", "value", "description", "timestamp", "host"})


class FiniteFloatField(serializers.FloatField):
    """A float that must be finite: NaN, Infinity and overflow (1e400) are refused.

    MySQL cannot store them, and some DRF releases pass the string forms
    ("NaN", "1e400") through to the database, which then answers with a 500.
    """

    default_error_messages = {"not_finite": NOT_FINITE}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("not_finite")
        return value


class ResourceSerializer(serializers.ModelSerializer):
    value = FiniteFloatField()

    class Meta:
        model = Resource
        fields = ["id", "name", "value", "description", "timestamp", "host"]
        read_only_fields = ["id"]


class HostStatusSerializer(serializers.Serializer):
    """A reporting host as /monitor/hosts/ lists it (documents the answer's shape)."""

    name = serializers.CharField()
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    seconds_since_last_seen = serializers.FloatField()
    stale = serializers.BooleanField()


class SampleErrors(Exception):
    """Validation failed; `errors` maps field name to messages (DRF's shape)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def parse_sample(data: object, now: datetime) -> Resource:
    """Validate one incoming sample and build its (unsaved) row."""
    if not isinstance(data, dict):
        raise SampleErrors({"non_field_errors": ["Expected a JSON object with name and value."]})
    errors: dict[str, list[str]] = {}
    name = _text(data, "name", NAME_MAX, errors, required=True)
    value = _finite(data, errors)
    description = _text(data, "description", None, errors)
    host = _text(data, "host", HOST_MAX, errors)
    timestamp = _timestamp(data, errors, now)
    if errors:
        raise SampleErrors(errors)
    return Resource(name=name, value=value, description=description, host=host, timestamp=timestamp)


def parse_samples(items: list, now: datetime) -> list[Resource]:
    """All-or-nothing: every sample valid, or SampleErrors keyed by item index."""
    rows, errors = [], {}
    for index, item in enumerate(items):
        try:
            rows.append(parse_sample(item, now))
        except SampleErrors as exc:
            errors[str(index)] = exc.errors
    if errors:
        raise SampleErrors(errors)
    return rows


def sample_json(row: Resource) -> dict:
    """The stored row as the API returns it (same shape as ResourceSerializer)."""
    return {
        "id": row.id,
        "name": row.name,
        "value": row.value,
        "description": row.description,
        "timestamp": _iso(row.timestamp),
        "host": row.host,
    }


def _text(data: dict, field: str, max_length: int | None, errors: dict, required: bool = False) -> str:
    if field not in data:
        if required:
            errors[field] = [REQUIRED]
        return ""
    raw = data[field]
    if raw is None:
        errors[field] = ["This field may not be null."]
        return ""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = str(raw)  # as DRF's CharField does
    if not isinstance(raw, str):
        errors[field] = ["Not a valid string."]
        return ""
    if "\x00" in raw:
        errors[field] = ["Null characters are not allowed."]
        return ""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no database can store it
        errors[field] = ["Not valid Unicode text (lone surrogate)."]
        return ""
    if field != "description":
        raw = raw.strip()  # as DRF's CharField does for updates
    if required and not raw:
        errors[field] = ["This field may not be blank."]
    elif max_length is not None and len(raw) > max_length:
        errors[field] = [f"Ensure this field has no more than {max_length} characters."]
    return raw


def _finite(data: dict, errors: dict) -> float:
    if "value" not in data:
        errors["value"] = [REQUIRED]
        return 0.0
    raw = data["value"]
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        errors["value"] = [NOT_A_NUMBER]
        return 0.0
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)
    except (ValueError, OverflowError):
        errors["value"] = [NOT_A_NUMBER]
        return 0.0
    if not math.isfinite(value):
        errors["value"] = [NOT_FINITE]
    return value


def to_utc(value: datetime) -> datetime:
    """An aware UTC datetime (naive means the server's TIME_ZONE).

    Raises ValueError when the instant has no UTC representation, e.g.
    0001-01-01T00:00+01:00, which is before year 1 in UTC.
    """
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value, timezone.get_default_timezone())
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(OUT_OF_RANGE) from None


def parse_time(raw: object) -> datetime:
    """ISO 8601 text -> aware UTC datetime, or ValueError with a message for the client."""
    parsed = None
    if isinstance(raw, str):
        try:
            parsed = parse_datetime(raw.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        raise ValueError(BAD_TIMESTAMP)
    return to_utc(parsed)


def _timestamp(data: dict, errors: dict, now: datetime) -> datetime:
    raw = data.get("timestamp")
    if raw is None:
        return now
    try:
        return parse_time(raw)
    except ValueError as exc:
        errors["timestamp"] = [str(exc)]
        return now


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
