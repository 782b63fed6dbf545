"""/monitor/alerts/: rules (CRUD), current alerts, the event log to follow, silences (CRUD)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from monitor.alerts.models import Alert, AlertEvent, AlertRule, AlertState, Severity, Silence

from .alert_serializers import (
    AlertEventSerializer,
    AlertRuleSerializer,
    AlertSerializer,
    EventPageSerializer,
    SilenceSerializer,
)
from .filters import over_the_bound
from .schemas import EXAMPLE_HOST, READ_ERRORS, RETRY_AFTER, WRITE_ERRORS, errors, example

EVENTS_DEFAULT_LIMIT = 100
EVENTS_MAX_LIMIT = 1000
EXAMPLE_RULE = {
    "name": "example_disk_full",
    "metric": "disk.used_percent",
    "host_pattern": "web-*",
    "match_labels": {"mount": "/"},
    "lookup": "avg",
    "window": 300,
    "warning": 85,
    "warning_clear": 80,
    "critical": 95,
    "critical_clear": 90,
    "for_seconds": 120,
    "summary": "{mount} on {host} is {value}% full",
}
EXAMPLE_SILENCE = {
    "matchers": [{"name": "host", "value": EXAMPLE_HOST, "regex": False}],
    "starts_at": "2026-11-25T10:00:00Z",
    "ends_at": "2036-11-25T12:00:00Z",
    "comment": "disk replacement on web-1",
}
NOT_FOUND = OpenApiResponse({"$ref": "#/components/schemas/Detail"}, "No such rule (by name) or silence (by id).")


def _text_parameter(name: str, description: str, value: str) -> OpenApiParameter:
    return OpenApiParameter(name, str, description=description, examples=example(value))


def crud_schema(serializer: type, examples: dict[str, tuple[str, dict]]) -> dict:
    """extend_schema_view arguments of a ModelViewSet whose answers are `serializer`;
    `examples` names a request example (title, body) for create, update and partial_update."""

    def body(action: str) -> list[OpenApiExample]:
        title, value = examples[action]
        return [OpenApiExample(title, value=value, request_only=True)]

    one = {200: serializer, 404: NOT_FOUND}
    return {
        "list": extend_schema(responses={200: serializer(many=True), **errors(READ_ERRORS)}, parameters=RETRY_AFTER),
        "retrieve": extend_schema(responses={**one, **errors(READ_ERRORS)}, parameters=RETRY_AFTER),
        "create": extend_schema(
            responses={201: serializer, **errors(WRITE_ERRORS)}, parameters=RETRY_AFTER, examples=body("create")
        ),
        "update": extend_schema(
            responses={**one, **errors(WRITE_ERRORS)}, parameters=RETRY_AFTER, examples=body("update")
        ),
        "partial_update": extend_schema(
            responses={**one, **errors(WRITE_ERRORS)}, parameters=RETRY_AFTER, examples=body("partial_update")
        ),
        "destroy": extend_schema(
            responses={204: None, 404: NOT_FOUND, **errors((401, 403, 429, 503))}, parameters=RETRY_AFTER
        ),
    }


# --- rules -------------------------------------------------------------------------------


@extend_schema_view(
    **crud_schema(
        AlertRuleSerializer,
        {
            "create": ("Disk nearly full on web hosts", EXAMPLE_RULE),
            "update": ("Replace the rule", EXAMPLE_RULE),
            "partial_update": ("Raise the warning", {"warning": 88}),
        },
    )
)
@extend_schema(
    parameters=[
        OpenApiParameter(
            "name",
            str,
            OpenApiParameter.PATH,
            description="the rule's name (its alertname)",
            examples=example(EXAMPLE_RULE["name"]),
        )
    ]
)
class AlertRuleViewSet(viewsets.ModelViewSet):
    """Alert rules, by name: which series to watch, how to read them, when to warn and when it is critical.

    A rule needs a warning or critical threshold, or nodata=alert; each clear
    value lies on the safe side of its threshold; window is at least 60 s.
    """

    queryset = AlertRule.objects.order_by("name")
    serializer_class = AlertRuleSerializer
    lookup_field = "name"
    lookup_value_regex = r".+"  # any name reaches the view: a bad one is a 404 there, TRACE a 405
    pagination_class = None


# --- alerts ------------------------------------------------------------------------------

SEVERITY_STATES = {
    Severity.CRITICAL: Q(state__in=[AlertState.CRITICAL, AlertState.NODATA])
    | Q(state=AlertState.PENDING, pending_severity=Severity.CRITICAL),
    Severity.WARNING: Q(state=AlertState.WARNING)
    | Q(state=AlertState.PENDING, pending_severity__in=[Severity.WARNING, ""]),
}
STATE_ORDER = {AlertState.CRITICAL: 0, AlertState.NODATA: 1, AlertState.WARNING: 2, AlertState.PENDING: 3}


class AlertFilters(serializers.Serializer):
    state = serializers.MultipleChoiceField(choices=AlertState.choices, required=False)
    host = serializers.CharField(required=False, max_length=255)
    rule = serializers.CharField(required=False, max_length=100)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    all = serializers.BooleanField(required=False, default=False)


def _query(filters: type[serializers.Serializer], request: Request) -> dict:
    data = {key: request.query_params.get(key) for key in request.query_params if key != "state"}
    if "state" in request.query_params:
        data["state"] = [s for value in request.query_params.getlist("state") for s in value.split(",") if s]
    found = filters(data=data)
    if not found.is_valid():
        raise ValidationError(found.errors)
    return found.validated_data


@extend_schema(
    parameters=[
        OpenApiParameter(
            "state",
            str,
            description="ok, pending, warning, critical or nodata; several comma-separated",
            examples=example("warning,critical,nodata"),
        ),
        _text_parameter("host", "only this host's alerts", EXAMPLE_HOST),
        _text_parameter("rule", "only this rule's alerts (its name)", "disk_nearly_full"),
        OpenApiParameter("severity", str, enum=["warning", "critical"], examples=example("critical")),
        OpenApiParameter(
            "all", bool, description="include alerts that are ok (default: only the others)", examples=example(True)
        ),
        *RETRY_AFTER,
    ],
    responses={200: AlertSerializer(many=True), **errors((400, *READ_ERRORS))},
)
@api_view(["GET"])
def alert_list(request: Request) -> Response:
    """The alerts that are not ok (pending, warning, critical, nodata), most severe first; `?all=1` adds ok ones.

    An alert exists once its series first crossed a threshold (or went
    silent); `firing` is warning, critical or nodata. More than API_MAX_SERIES
    (50,000) alerts answer 400 asking for a filter.
    """
    query = _query(AlertFilters, request)
    alerts: QuerySet = Alert.objects.select_related("rule")
    if query.get("state"):
        alerts = alerts.filter(state__in=sorted(query["state"]))
    elif not query["all"]:
        alerts = alerts.exclude(state=AlertState.OK)
    if query.get("host") is not None:
        alerts = alerts.filter(host=query["host"])
    if query.get("rule") is not None:
        alerts = alerts.filter(rule__name=query["rule"])
    if query.get("severity"):
        alerts = alerts.filter(SEVERITY_STATES[query["severity"]]).exclude(state=AlertState.OK)
    # One alert per (rule, series) that ever left ok: with `all` or `state=ok` that grows
    # with the fleet, so it is bounded like the sample API's series (API_MAX_SERIES).
    limit = settings.API_MAX_SERIES
    found = list(alerts[: limit + 1])
    if len(found) > limit:
        raise over_the_bound("alerts", "state, host, rule or severity")
    rows = sorted(found, key=lambda a: (STATE_ORDER.get(a.state, 9), a.host, a.rule.name, a.series_name))
    return Response(AlertSerializer(rows, many=True).data)


# --- events ------------------------------------------------------------------------------


class EventFilters(serializers.Serializer):
    after = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**63 - 1)
    host = serializers.CharField(required=False, max_length=255)
    rule = serializers.CharField(required=False, max_length=100)
    limit = serializers.IntegerField(
        required=False, default=EVENTS_DEFAULT_LIMIT, min_value=1, max_value=EVENTS_MAX_LIMIT
    )


@extend_schema(
    parameters=[
        OpenApiParameter(
            "after",
            int,
            description="only events with a larger id (default 0: from the first)",
            # not 0: openapi-to-postmanv2 drops the name of a parameter whose example is falsy
            examples=example(1),
        ),
        _text_parameter("host", "only this host's events", EXAMPLE_HOST),
        _text_parameter("rule", "only this rule's events (its name)", "disk_nearly_full"),
        OpenApiParameter(
            "limit",
            int,
            description=f"at most this many (1 to {EVENTS_MAX_LIMIT}, default {EVENTS_DEFAULT_LIMIT})",
            examples=example(100),
        ),
        *RETRY_AFTER,
    ],
    responses={200: EventPageSerializer, **errors((400, *READ_ERRORS))},
)
@api_view(["GET"])
def alert_events(request: Request) -> Response:
    """Every state change of every alert, oldest first (ascending id): follow `next` to page and to poll.

    `next` continues after the last event returned (or stays where it was
    when none was): a frontend asks it again and gets only what happened since.
    """
    query = _query(EventFilters, request)
    events = AlertEvent.objects.filter(id__gt=query["after"])
    if query.get("host") is not None:
        events = events.filter(host=query["host"])
    if query.get("rule") is not None:
        events = events.filter(rule_name=query["rule"])
    limit = query["limit"]
    page = list(events.order_by("id")[: limit + 1])
    has_more = len(page) > limit
    page = page[:limit]
    last = page[-1].id if page else query["after"]
    next_url = replace_query_param(request.build_absolute_uri(), "after", last)
    return Response({"results": AlertEventSerializer(page, many=True).data, "next": next_url, "has_more": has_more})


# --- silences ----------------------------------------------------------------------------

SILENCE_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="the silence's id", examples=example(1))


@extend_schema_view(
    **crud_schema(
        SilenceSerializer,
        {
            "create": ("Silence web-1", EXAMPLE_SILENCE),
            "update": ("Replace the silence", EXAMPLE_SILENCE),
            "partial_update": ("End it later", {"ends_at": "2036-11-26T12:00:00Z"}),
        },
    )
)
@extend_schema(parameters=[SILENCE_ID])
class SilenceViewSet(viewsets.ModelViewSet):
    """Silences: alerts whose labels match every matcher send no notification between starts_at and ends_at.

    `created_by` is the user (or token) that made it; ends_at must be after starts_at.
    """

    queryset = Silence.objects.order_by("-starts_at", "-id")
    serializer_class = SilenceSerializer
    pagination_class = None

    def perform_create(self, serializer: SilenceSerializer) -> None:
        user = self.request.user
        who = str(getattr(user, "username", "") or "") if user and user.is_authenticated else ""
        serializer.save(created_by=(who or _("anonymous"))[:150])
