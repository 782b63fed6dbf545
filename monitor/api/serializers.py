"""JSON <-> samples. Every rule about what a valid sample is lives here, once.

`parse_sample` is the one write schema: a single POST, each item of a bulk
POST, PUT, PATCH and the browsable API's form all go through it. It costs a
few microseconds per sample, which keeps bulk ingest close to the database's
own speed. `ResourceSerializer` wraps it for DRF, and its fields describe the
same rules to the OpenAPI schema, generated clients and the HTML form.
"""

import math
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from monitor.storage.inserts import MAX_ABS_VALUE, Point
from monitor.storage.instants import from_us, to_us
from monitor.storage.queries import SERIES_AGGREGATES, Row

NAME_MAX = 200
HOST_MAX = 255
NOT_FINITE = gettext_lazy("Must be a finite number (not NaN or Infinity).")
NOT_A_NUMBER = gettext_lazy("A valid number is required.")
OUT_OF_RANGE_VALUE = gettext_lazy("Must be between -1e300 and 1e300.")
BAD_TIMESTAMP = gettext_lazy("Datetime has wrong format. Use ISO 8601, e.g. 2026-11-25T10:00:00.123456Z.")
REQUIRED = gettext_lazy("This field is required.")
OUT_OF_RANGE = gettext_lazy("Datetime value out of range.")
HOST_SOURCES = ("worker", "push")
SAMPLE_FIELDS = frozenset({"name", "value", "description", "timestamp", "host"})


class SampleErrors(Exception):
    """Validation failed; `errors` maps field name to messages (DRF's shape)."""

    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


def parse_sample(data: object, now: datetime, base: Row | None = None, memo: dict | None = None) -> Point:
    """Validate one incoming sample and build it. With `base` (an update), absent fields keep its values.

    `memo` (one per batch) remembers each text and timestamp already checked: a
    batch repeats a few names, hosts and instants thousands of times.
    """
    if not isinstance(data, dict):
        raise SampleErrors({"non_field_errors": [_("Expected a JSON object with name and value.")]})
    errors: dict[str, list[str]] = {}
    memo = {} if memo is None else memo
    name = _text(data, "name", NAME_MAX, errors, memo, required=base is None)
    value = _finite(data, errors, required=base is None)
    description = _text(data, "description", None, errors, memo)
    host = _text(data, "host", HOST_MAX, errors, memo)
    ts = _timestamp(data, errors, now, memo)
    if errors:
        raise SampleErrors(errors)
    if base is not None:
        name = name if "name" in data else base.name
        value = value if "value" in data else base.value
        description = description if "description" in data else base.description
        host = host if "host" in data else base.host
        ts = ts if data.get("timestamp") is not None else base.ts
        return Point(name, host, ts, value, description)
    return Point(name, host, ts, value, description, server_timed=data.get("timestamp") is None)


def parse_samples(items: list, now: datetime) -> list[Point]:
    """All-or-nothing: every sample valid, or SampleErrors keyed by item index."""
    points, errors, memo = [], {}, {}
    for index, item in enumerate(items):
        try:
            points.append(parse_sample(item, now, memo=memo))
        except SampleErrors as exc:
            errors[str(index)] = exc.errors
    if errors:
        raise SampleErrors(errors)
    return points


def sample_json(row: Row) -> dict:
    """A stored sample as the API returns it (unpacked: `latest` calls this 20,000 times a request)."""
    series_id, ts, value, name, host, description = row
    return {
        "id": f"{series_id}-{ts}",  # Row.id, without a property call per row
        "name": name,
        "value": value,
        "description": description,
        "timestamp": iso(ts),
        "host": host,
    }


@lru_cache(maxsize=8192)
def iso(us: int) -> str:
    """ISO 8601 in UTC. Cached: a cycle's samples share their instant, so a page or a
    latest answer repeats a few hundred instants thousands of times."""
    return from_us(us).isoformat().replace("+00:00", "Z")


class ResourceSerializer(serializers.Serializer):
    """A metric sample: what was measured (name), where (host), when (timestamp) and its value.

    Validation is `parse_sample`; the fields say the same for the schema and the HTML form.
    """

    id = serializers.CharField(
        read_only=True, help_text='"<series id>-<microseconds since 1970>", e.g. 12-1764064800103602'
    )
    name = serializers.CharField(max_length=NAME_MAX, help_text="metric name, e.g. cpu.percent or CPU Usage")
    value = serializers.FloatField(help_text="a finite number")
    # No `default=` on the optional fields: they are documentation (parse_sample validates), and
    # a default in the schema makes generated clients send it, which a PATCH must not do.
    description = serializers.CharField(
        required=False, allow_blank=True, help_text="what the metric means; belongs to the series (default: empty)"
    )
    timestamp = serializers.DateTimeField(
        # A text box in the HTML forms: a datetime-local box keeps only milliseconds, and a
        # form sent back unchanged would move the sample by the microseconds it dropped.
        style={"input_type": "text", "placeholder": "2026-11-25T10:00:00Z"},
        required=False,
        help_text="ISO 8601; default: when the server receives it, or the next microsecond its series has free "
        "(an update keeps the sample's). Answers are in UTC.",
    )
    host = serializers.CharField(
        required=False, allow_blank=True, max_length=HOST_MAX, help_text="the machine it is about (default: empty)"
    )

    def to_internal_value(self, data) -> Point:
        from django.utils import timezone

        base = self.instance if isinstance(self.instance, Row) else None
        if not self.partial and base is not None:
            missing = {field: [str(REQUIRED)] for field in ("name", "value") if field not in data}
            if missing:
                raise serializers.ValidationError(missing)
        try:
            return parse_sample(plain(data), timezone.now(), base=base)
        except SampleErrors as exc:
            raise serializers.ValidationError(exc.errors) from None

    def to_representation(self, row: Row) -> dict:
        return sample_json(row)


def plain(data) -> object:
    """A form's QueryDict as the plain dict JSON gives; an empty timestamp field means "now"."""
    if hasattr(data, "getlist"):
        return {k: v for k, v in data.items() if k in SAMPLE_FIELDS and not (k == "timestamp" and v == "")}
    return data


def _text(data: dict, field: str, max_length: int | None, errors: dict, memo: dict, required: bool = False) -> str:
    if field not in data:
        if required:
            errors[field] = [str(REQUIRED)]
        return ""
    raw = data[field]
    text, error = _remembered(memo, field, raw, lambda: _check_text(field, raw, max_length))
    if error is not None:
        errors[field] = [error]
    return text


def _remembered(memo: dict, field: str, raw: object, check: Callable[[], tuple]) -> tuple:
    """`check()`, the (value, error) of `raw` in `field`, computed once per text a batch repeats."""
    if type(raw) is not str:
        return check()
    key = (field, raw)
    checked = memo.get(key)
    if checked is None:
        checked = memo[key] = check()
    return checked


def _check_text(field: str, raw: object, max_length: int | None) -> tuple[str, str | None]:
    """(the text as stored, None) or ("", the error) for one value of a text field."""
    if raw is None:
        return "", _("This field may not be null.")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = str(raw)  # as DRF's CharField does
    if not isinstance(raw, str):
        return "", _("Not a valid string.")
    if "\x00" in raw:
        return "", _("Null characters are not allowed.")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no database can store it
        return "", _("Not valid Unicode text (lone surrogate).")
    if field != "description":
        raw = raw.strip()  # as DRF's CharField does
    if field == "name" and not raw:
        return raw, _("This field may not be blank.")
    if max_length is not None and len(raw) > max_length:
        return raw, _("Ensure this field has no more than %(max)d characters.") % {"max": max_length}
    return raw, None


def _finite(data: dict, errors: dict, required: bool = True) -> float:
    if "value" not in data:
        if required:
            errors["value"] = [str(REQUIRED)]
        return 0.0
    raw = data["value"]
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        errors["value"] = [str(NOT_A_NUMBER)]
        return 0.0
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)
    except (ValueError, OverflowError):
        errors["value"] = [str(NOT_A_NUMBER)]
        return 0.0
    if not math.isfinite(value):
        errors["value"] = [str(NOT_FINITE)]
    elif abs(value) > MAX_ABS_VALUE:
        errors["value"] = [str(OUT_OF_RANGE_VALUE)]
    return value


def to_utc(value: datetime) -> datetime:
    """An aware UTC datetime (naive means the server's TIME_ZONE).

    Raises ValueError when the instant has no UTC representation, e.g.
    0001-01-01T00:00+01:00, which is before year 1 in UTC.
    """
    from django.utils import timezone

    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value, timezone.get_default_timezone())
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(str(OUT_OF_RANGE)) from None


def parse_time(raw: object) -> datetime:
    """ISO 8601 text -> aware UTC datetime, or ValueError with a message for the client."""
    parsed = None
    if isinstance(raw, str):
        try:
            parsed = parse_datetime(raw.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        raise ValueError(str(BAD_TIMESTAMP))
    return to_utc(parsed)


def _timestamp(data: dict, errors: dict, now: datetime, memo: dict) -> int:
    raw = data.get("timestamp")
    if raw is None:
        return to_us(now)

    def check() -> tuple[int, str | None]:
        try:
            return to_us(parse_time(raw)), None
        except ValueError as exc:
            return to_us(now), str(exc)

    ts, error = _remembered(memo, "timestamp", raw, check)
    if error is not None:
        errors["timestamp"] = [error]
    return ts


class ResourcePageSerializer(serializers.Serializer):
    """One page of samples with the links to its neighbours (null at either end)."""

    next = serializers.URLField(allow_null=True, help_text="the following page, or null on the last")
    previous = serializers.URLField(allow_null=True, help_text="the page before, or null on the first")
    results = ResourceSerializer(many=True)


class BulkCreatedSerializer(serializers.Serializer):
    """The answer to a bulk POST (an array): how many samples it stored, all of them."""

    created = serializers.IntegerField(min_value=1, help_text="samples stored (repeats of stored ones included)")


class SeriesSerializer(serializers.Serializer):
    """One metric as one aggregated point per step, as /monitor/resources/series/ answers it."""

    name = serializers.CharField(help_text="the metric asked for")
    host = serializers.CharField(allow_null=True, help_text="the host asked for; null: all hosts together")
    since = serializers.DateTimeField(help_text="start of the range, inclusive (UTC)")
    until = serializers.DateTimeField(help_text="end of the range, exclusive (UTC)")
    step = serializers.IntegerField(min_value=1, help_text="seconds per point")
    aggregate = serializers.ChoiceField(choices=SERIES_AGGREGATES, help_text="how each bucket's samples are combined")
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        help_text="[bucket start in seconds since 1970 (UTC), value], oldest first; buckets without data are left out",
    )


class HostStatusSerializer(serializers.Serializer):
    """A reporting host as /monitor/hosts/ lists it (documents the answer's shape)."""

    name = serializers.CharField(help_text="the `host` of its samples")
    first_seen = serializers.DateTimeField(help_text="its first sample")
    last_seen = serializers.DateTimeField(help_text="its newest sample (never later than when it arrived)")
    seconds_since_last_seen = serializers.FloatField()
    stale = serializers.BooleanField(help_text="nothing for more than HOST_STALE_AFTER seconds")
    source = serializers.ChoiceField(
        choices=HOST_SOURCES,
        help_text="worker: a Celery worker of this deployment collects it; push: only samples sent to the API",
    )
