"""What the OpenAPI schema (/monitor/schema/) says beyond the serializers.

Generated clients (openapi-python-client) and Postman (openapi-to-postmanv2, then
newman) are built from the schema alone, so every answer is typed here: the
error bodies (JSON schema components, since DRF's field errors are a map no
serializer describes), the answers of the views that build their JSON by hand,
the examples every request of a converted collection runs with, and a hook
that puts the servers and the security scheme where converters read them.
"""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from monitor.storage.instants import to_us

logger = logging.getLogger(__name__)

# One sample the examples agree on: the create example stores it, the filters find it.
EXAMPLE_NAME = "cpu.percent"
EXAMPLE_HOST = "web-1"
EXAMPLE_TIME = "2026-11-25T10:00:00Z"
EXAMPLE_SAMPLE = {
    "name": EXAMPLE_NAME,
    "value": 12.5,
    "description": "CPU busy over the interval, all cores",
    "host": EXAMPLE_HOST,
    "timestamp": EXAMPLE_TIME,
}
EXAMPLE_TS_US = to_us(datetime.fromisoformat(EXAMPLE_TIME))  # as in a sample id
EXAMPLE_ID = f"1-{EXAMPLE_TS_US}"  # in a schema made without a request (see live_sample_id)
DEFAULT_SERVER = "http://127.0.0.1:8000"
TOKEN_SCHEME = "tokenAuth"


def ref(component: str) -> dict:
    return {"$ref": f"#/components/schemas/{component}"}


def _messages(description: str) -> dict:
    return {"type": "array", "items": {"type": "string"}, "description": description}


def _bulk(description: str, items: str, item_component: str, example: dict) -> dict:
    """The answer refusing a batch: a detail for a person, and the items at fault by index."""
    return {
        "type": "object",
        "description": description,
        "properties": {
            "detail": {"type": "string"},
            "items": {"type": "object", "description": items, "additionalProperties": ref(item_component)},
        },
        "required": ["detail", "items"],
        "example": example,
    }


# --- error bodies ----------------------------------------------------------------------

COMPONENTS = {
    "Detail": {
        "type": "object",
        "description": "An error that concerns the whole request.",
        "properties": {"detail": {"type": "string", "description": "what went wrong, for a person"}},
        "required": ["detail"],
        "example": {"detail": "Authentication credentials were not provided."},
    },
    "FieldErrors": {
        "type": "object",
        "description": "Bad input, nothing stored: each field or query parameter at fault with its messages "
        "(`non_field_errors` when the body as a whole is wrong).",
        "additionalProperties": _messages("why this field was refused"),
        "example": {"value": ["Must be a finite number (not NaN or Infinity)."]},
    },
    "BatchErrors": {
        "type": "object",
        "description": "A batch read with bad input: the request's fields at fault, and the bad items by index "
        "(from 0, as text) with their field errors.",
        "properties": {
            "items": {
                "oneOf": [
                    _messages("why the list of items was refused"),
                    {
                        "type": "object",
                        "additionalProperties": {
                            "oneOf": [ref("FieldErrors"), _messages("why this item as a whole was refused")]
                        },
                    },
                ]
            }
        },
        "additionalProperties": _messages("why this field was refused"),
        "example": {"items": {"0": {"name": ["This field is required."]}}},
    },
    "BulkItemErrors": _bulk(
        "A bulk POST with bad items: none of its samples was stored.",
        "the bad items by index in the array (from 0, as text), each with its field errors",
        "FieldErrors",
        {
            "detail": "1 of 2 samples are invalid; none was stored.",
            "items": {"1": {"value": ["A valid number is required."]}},
        },
    ),
    "SampleConflict": {
        "type": "object",
        "description": "The series already holds another value at this timestamp; nothing was stored.",
        "properties": {"timestamp": _messages("the stored value it clashes with")},
        "required": ["timestamp"],
        "example": {"timestamp": ["A different value (12.5) is already stored for this series at this timestamp."]},
    },
    "BulkConflict": _bulk(
        "Items of a bulk POST clash with stored samples (or with each other); none was stored.",
        "the clashing items by index in the array (from 0, as text)",
        "SampleConflict",
        {
            "detail": "1 of 2 samples clash with stored ones; none was stored.",
            "items": {
                "0": {"timestamp": ["A different value (12.5) is already stored for this series at this timestamp."]}
            },
        },
    ),
}

ERRORS = {
    # Detail first: a generated client tries them in order, and any object passes for FieldErrors.
    400: OpenApiResponse({"oneOf": [ref("Detail"), ref("FieldErrors")]}, "Bad input, nothing stored."),
    401: OpenApiResponse(
        ref("Detail"), "No valid token: send `Authorization: Bearer <key>` (or `Token <key>`) with a live key."
    ),
    403: OpenApiResponse(
        ref("Detail"), "Not allowed: writes need a read-write token, a session must be a staff user's."
    ),
    404: OpenApiResponse(ref("Detail"), "No sample with this id."),
    409: OpenApiResponse(ref("SampleConflict"), "The series already holds another value at this timestamp."),
    413: OpenApiResponse(ref("Detail"), "Body over DATA_UPLOAD_MAX_MEMORY_SIZE bytes, or over BULK_MAX_ITEMS samples."),
    415: OpenApiResponse(ref("Detail"), "Unsupported Content-Type: send application/json."),
    429: OpenApiResponse(
        ref("Detail"),
        "Too many writes for this token (API_WRITE_RATE), or too many failed token checks from this address: "
        "retry after Retry-After seconds.",
    ),
    503: OpenApiResponse(
        ref("Detail"), "The database (or for collect, the broker) is down, read-only or too slow: retry later."
    ),
}
READ_ERRORS = (401, 403, 429, 503)
WRITE_ERRORS = (400, 401, 403, 413, 415, 429, 503)

CREATE_BAD_REQUEST = OpenApiResponse(
    # anyOf: a bulk answer is also a Detail. Most specific first, for clients that try them in order.
    {"anyOf": [ref("BulkItemErrors"), ref("Detail"), ref("FieldErrors")]},
    "Bad input, nothing stored: field errors of one sample, or the bad items of a batch.",
)
CREATE_CONFLICT = OpenApiResponse(
    {"oneOf": [ref("SampleConflict"), ref("BulkConflict")]},
    "A sample clashes with a stored one (another value, same series and timestamp); nothing was stored.",
)

RETRY_AFTER = [
    OpenApiParameter(
        "Retry-After",
        int,
        OpenApiParameter.HEADER,
        required=True,
        response=[429],
        description="seconds to wait before trying again",
    ),
    OpenApiParameter(
        "Retry-After",
        int,
        OpenApiParameter.HEADER,
        response=[503],
        description="seconds to wait before trying again",
    ),
]


def errors(codes: Iterable[int], special: dict[int, OpenApiResponse] | None = None) -> dict[int, OpenApiResponse]:
    """The documented error answers for `codes`; `special` replaces (or adds) some by code."""
    return {**{code: ERRORS[code] for code in codes}, **(special or {})}


# --- answers built by hand in views.py ----------------------------------------------------


HEALTH_STATES = ("ok", "warn", "fail")
CHECK_STATES = ("ok", "warn", "down", "read_only", "unknown")
BROKER_STATES = ("ok", "unreachable", "timeout")


class CheckSerializer(serializers.Serializer):
    """One dependency as /monitor/health/ checked it."""

    state = serializers.ChoiceField(choices=CHECK_STATES, help_text="ok, warn (workers only) or why not")
    error = serializers.CharField(required=False, help_text="what failed, when it did")
    latency_ms = serializers.IntegerField(required=False, help_text="how long the check took")


class BrokerCheckSerializer(CheckSerializer):
    queues = serializers.DictField(
        child=serializers.IntegerField(), required=False, help_text="messages waiting, by queue"
    )


class StaleHostSerializer(serializers.Serializer):
    name = serializers.CharField()
    last_seen = serializers.DateTimeField()
    seconds_since_last_seen = serializers.FloatField()


class WorkersCheckSerializer(CheckSerializer):
    workers_reporting = serializers.IntegerField(
        required=False, help_text="hosts whose worker stored a collection cycle within HOST_STALE_AFTER"
    )
    worker_hosts = serializers.ListField(child=serializers.CharField(), required=False, help_text="those hosts")
    hosts_reporting = serializers.IntegerField(required=False, help_text="hosts heard from within HOST_STALE_AFTER")
    last_seen = serializers.DateTimeField(required=False, allow_null=True, help_text="the newest report of any host")
    stale_hosts = StaleHostSerializer(many=True, required=False)


class CriticalAlertSerializer(serializers.Serializer):
    rule = serializers.CharField()
    host = serializers.CharField()
    summary = serializers.CharField()
    since = serializers.DateTimeField(help_text="when it started firing")


class AlertsCheckSerializer(CheckSerializer):
    firing_critical = serializers.IntegerField(required=False, help_text="critical and nodata alerts firing now")
    critical = CriticalAlertSerializer(
        many=True, required=False, help_text="the oldest of them, up to ALERTS_HEALTH_LIST"
    )


class HealthChecksSerializer(serializers.Serializer):
    database = CheckSerializer()
    broker = BrokerCheckSerializer()
    workers = WorkersCheckSerializer()
    alerts = AlertsCheckSerializer(help_text="warn while a critical alert fires")


class HealthSerializer(serializers.Serializer):
    """/monitor/health/: the states' names for anyone; `checks` too for a token or a staff session."""

    status = serializers.ChoiceField(choices=HEALTH_STATES, help_text="fail answers 503")
    failed = serializers.ListField(child=serializers.CharField(), help_text="checks that failed")
    warnings = serializers.ListField(
        child=serializers.CharField(), help_text="checks that warn (a stale host, a critical alert)"
    )
    checks = HealthChecksSerializer(required=False, help_text="only for a token of any scope or a staff session")


class BrokerStateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=BROKER_STATES)
    latency_ms = serializers.FloatField(required=False, help_text="one broker round trip, or the whole ask")
    error = serializers.CharField(required=False)


class AlertCountsSerializer(serializers.Serializer):
    ok = serializers.IntegerField()
    pending = serializers.IntegerField()
    warning = serializers.IntegerField()
    critical = serializers.IntegerField()
    nodata = serializers.IntegerField()


class OutboxSerializer(serializers.Serializer):
    pending = serializers.IntegerField(help_text="notifications waiting or being sent")
    failed = serializers.IntegerField(help_text="notifications given up on after ALERTS_MAX_ATTEMPTS")
    oldest_pending_age_seconds = serializers.FloatField(
        allow_null=True, help_text="age of the oldest waiting one; growing: a receiver is down or sending stopped"
    )


class ApplicationStatusSerializer(serializers.Serializer):
    """/monitor/application/: sessions and users, workers and their task counts, the broker's state."""

    active_sessions = serializers.IntegerField()
    active_users = serializers.IntegerField(help_text="logged in within 30 minutes")
    total_users = serializers.IntegerField()
    active_tasks = serializers.IntegerField(help_text="tasks running now, all workers")
    scheduled_tasks = serializers.IntegerField(help_text="tasks with an ETA or countdown, all workers")
    reserved_tasks = serializers.IntegerField(help_text="tasks received and waiting to run, all workers")
    workers_online = serializers.IntegerField()
    workers = serializers.ListField(child=serializers.CharField(), help_text="names of the workers that answered")
    broker = BrokerStateSerializer()
    reported_at = serializers.DateTimeField(
        allow_null=True, help_text="when the workers answered these counts (their last server-status cycle, or now)"
    )
    age_seconds = serializers.FloatField(allow_null=True, help_text="how long ago that was")
    alerts = AlertCountsSerializer(help_text="alerts by state (an alert exists once its series left ok)")
    notifications = OutboxSerializer(help_text="the notification outbox")


class CollectQueuedSerializer(serializers.Serializer):
    queued = serializers.ListField(child=serializers.CharField(), help_text="ids of the queued collection tasks")


def time_parameter(name: str, description: str, value: str) -> OpenApiParameter:
    """An ISO 8601 query parameter (since, until) with an example that runs."""
    return OpenApiParameter(name, OpenApiTypes.DATETIME, description=description, examples=example(value))


def example(value: object, name: str = "Example") -> list[OpenApiExample]:
    """One example of a parameter. Named "Example": a summary beside it makes openapi-to-postmanv2 send both."""
    return [OpenApiExample(name, value=value)]


# --- examples ---------------------------------------------------------------------------
# Every example runs as given, in the order a converted collection sends them: create
# stores the example sample (a repeat stores nothing and answers 201 again), the reads
# find it, replace and patch leave it as it is, delete removes it.

STORED_SAMPLE = {"id": EXAMPLE_ID, **EXAMPLE_SAMPLE}
CREATE_EXAMPLES = [
    OpenApiExample(
        "One sample", value=EXAMPLE_SAMPLE, request_only=True, description="Answers 201 with the stored sample."
    ),
    OpenApiExample(
        "A batch",
        value=[
            {"name": EXAMPLE_NAME, "value": 14.0, "host": EXAMPLE_HOST, "timestamp": "2026-11-25T10:00:10Z"},
            {"name": "memory.used_percent", "value": 41.2, "host": EXAMPLE_HOST, "timestamp": "2026-11-25T10:00:10Z"},
        ],
        request_only=True,
        description="An array: all stored (201 with the count) or none.",
    ),
    OpenApiExample("Stored", value=STORED_SAMPLE, response_only=True, status_codes=["201"]),
    OpenApiExample("Batch stored", value={"created": 2}, response_only=True, status_codes=["201"]),
]
SAMPLE_EXAMPLES = [
    OpenApiExample("The example sample", value=EXAMPLE_SAMPLE, request_only=True),
    OpenApiExample("Stored", value=STORED_SAMPLE, response_only=True, status_codes=["200"]),
]
PATCH_EXAMPLE = {"value": EXAMPLE_SAMPLE["value"]}
PATCH_EXAMPLES = [
    OpenApiExample("Correct the value", value=PATCH_EXAMPLE, request_only=True),
    OpenApiExample("Stored", value=STORED_SAMPLE, response_only=True, status_codes=["200"]),
]
# "<series id>-<microseconds>": an INT id and a BIGINT instant. In the schema too, so clients and
# fuzzers do not take `latest` or `series` (the list's own routes) for a sample's id.
SAMPLE_ID_PATTERN = r"^(\d{1,10})-(-?\d{1,19})$"
SAMPLE_ID_PARAMETER = OpenApiParameter(
    "id",
    str,
    OpenApiParameter.PATH,
    description='"<series id>-<microseconds since 1970>", as `id` in every answer',
    pattern=SAMPLE_ID_PATTERN,
    examples=example(EXAMPLE_ID),
)


# --- the hook ---------------------------------------------------------------------------

SAMPLE_PATH = "/monitor/resources/{id}/"
SILENCE_PATH = "/monitor/alerts/silences/{id}/"


def finish_schema(result: dict, generator, request, public: bool) -> dict:
    """POSTPROCESSING_HOOKS: error components, one server, security inherited from the top, examples, bodies.

    Security sits at the top level only: openapi-to-postmanv2 then puts the
    token on the collection (every request inherits it) rather than on each
    request, so the collection's Authorization setting is the one that counts.
    """
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.update(COMPONENTS)
    if "Resource" in components:
        # A stored sample always carries every field; the serializer's defaults only make them optional to send.
        components["Resource"]["required"] = list(components["Resource"]["properties"])
    result["servers"] = [{"url": server_url(request), "description": "this monitor"}]
    schemes = result["components"].get("securitySchemes", {})
    result["security"] = [{name: []} for name in (TOKEN_SCHEME, "cookieAuth") if name in schemes]
    sample_id = live_sample_id() if request is not None else None
    live_ids = {SAMPLE_PATH: sample_id, SILENCE_PATH: live_silence_id() if request is not None else None}
    for path, item in result.get("paths", {}).items():
        for operation in item.values():
            if {} in operation.get("security", []):
                # Open to anonymous clients; a token still shows more (health's details).
                operation["security"] = [{TOKEN_SCHEME: []}, {}]
            else:
                operation.pop("security", None)
            if "requestBody" in operation:
                operation["requestBody"]["required"] = True
            if live_ids.get(path):
                for parameter in operation.get("parameters", []):
                    if parameter["name"] == "id":
                        for shown in parameter.get("examples", {}).values():
                            shown["value"] = live_ids[path]
    return result


def live_silence_id() -> int | None:
    """The newest silence here, so the silence examples (read, replace, patch, delete) meet a real one."""
    from monitor.alerts.models import Silence

    try:
        return Silence.objects.order_by("-id").values_list("id", flat=True).first()
    except Exception as exc:  # noqa: BLE001 - any failure leaves the static example
        logger.info("schema examples without a stored silence: %s", exc)
        return None


def server_url(request) -> str:
    """API_SERVER_URL, else the origin the schema was asked from, else the embedded default."""
    if settings.API_SERVER_URL:
        return settings.API_SERVER_URL.rstrip("/")
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return DEFAULT_SERVER


def live_sample_id() -> str | None:
    """The id the example sample has (or will have) here: its series' id is this database's.

    Postman and Swagger UI send the examples as they are, and a made-up id
    answers 404. None while the example series does not exist (create makes it)
    or the database does not answer: the schema never depends on it.
    """
    from monitor.models import Series

    try:
        series_id = Series.objects.matching(name=EXAMPLE_NAME, host=EXAMPLE_HOST).values_list("id", flat=True).first()
    except Exception as exc:  # noqa: BLE001 - any failure leaves the static example
        logger.info("schema examples without the stored example sample: %s", exc)
        return None
    return None if series_id is None else f"{series_id}-{EXAMPLE_TS_US}"
