"""POST /monitor/resources/series/batch/: many series over one time range in one request.

A dashboard view draws dozens of charts; asking for each series on its own
would cost a round trip per line. The batch names every series it wants
(`name`, optional `host`, optional `aggregate`) with one `since`/`until`/`step`
and gets them all back, each computed like /monitor/resources/series/ (one
`series_points` call per item, from the coarsest rollup tier that fits the
step). With `fill`, the answer is columns ready for a chart: one `times` array
of every bucket in the range and, per item, `values` aligned with it, `null`
where a bucket has no data, so a missing bucket is drawn as a gap.

It is a read sent as POST (its list of series does not fit a URL), so the read
policy applies, not the write one: a token of either scope, a staff session or
a dashboard viewer's session (DASHBOARD_GROUP); sessions send the CSRF token.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes, throttle_classes
from rest_framework.request import Request
from rest_framework.response import Response

from monitor.models import Series
from monitor.storage.instants import from_us, to_us
from monitor.storage.names import parse, series_key
from monitor.storage.queries import MAX_POINTS, SERIES_AGGREGATES, parse_step, series_points_many

from .auth import ApiAccess
from .schemas import RETRY_AFTER, errors, ref
from .serializers import parse_time

US = 1_000_000


@extend_schema_field({"oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}]})
class InstantField(serializers.Field):
    """ISO 8601 text, or seconds since 1970-01-01 UTC (what a chart's axis holds)."""

    default_error_messages = {"invalid": gettext_lazy("Use ISO 8601 (2026-11-25T10:00:00Z) or seconds since 1970.")}

    def to_internal_value(self, data) -> datetime:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int | float):
            try:
                return from_us(round(data * US))
            except (OverflowError, ValueError):
                self.fail("invalid")
        try:
            return parse_time(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: datetime) -> str:
        return value.isoformat().replace("+00:00", "Z")


@extend_schema_field({"oneOf": [{"type": "string", "example": "5m"}, {"type": "integer", "minimum": 1}]})
class StepField(serializers.Field):
    """60s, 5m, 1h, 1d or plain seconds -> seconds."""

    def to_internal_value(self, data) -> int:
        try:
            return parse_step(str(data) if isinstance(data, int) and not isinstance(data, bool) else data)
        except (ValueError, AttributeError, TypeError):
            raise serializers.ValidationError(
                _("Invalid step %(step)r: use a positive duration like 60s, 5m, 1h or 1d.") % {"step": data}
            ) from None

    def to_representation(self, value: int) -> int:
        return value


class BatchItemSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=1000, help_text="metric name, e.g. cpu.percent or disk.used_percent:/")
    host = serializers.CharField(
        required=False, allow_blank=True, max_length=255, help_text="host name; omitted: all hosts together"
    )
    aggregate = serializers.ChoiceField(
        SERIES_AGGREGATES, required=False, help_text="this item's aggregate; default: the request's"
    )


class BatchRequestSerializer(serializers.Serializer):
    items = BatchItemSerializer(many=True, allow_empty=False, help_text="the series, at most BATCH_MAX_ITEMS (200)")
    since = InstantField(required=False, help_text="inclusive; default until - 1 h")
    until = InstantField(required=False, help_text="exclusive; default now")
    step = StepField(required=False, help_text="bucket length: 60s, 5m, 1h, 1d or seconds; default 60s")
    aggregate = serializers.ChoiceField(SERIES_AGGREGATES, default="avg", help_text="default for every item")
    fill = serializers.BooleanField(
        default=False,
        help_text="answer `times` (every bucket of the range) and per item `values` aligned with it, "
        "null where a bucket has no data; otherwise per item `points` of the buckets that have data",
    )

    def validate(self, data: dict) -> dict:
        until = data.get("until") or timezone.now()
        since = data.get("since") or until - timedelta(hours=1)
        step = data.get("step") or 60
        if since >= until:
            raise serializers.ValidationError({"since": [_("Must be earlier than until.")]})
        buckets = _bucket_count(to_us(since), to_us(until), step)
        if buckets > MAX_POINTS:
            raise serializers.ValidationError(
                {
                    "step": [
                        _(
                            "%(points)d points per series requested; at most %(limit)d: "
                            "use a larger step or a shorter range."
                        )
                        % {"points": buckets, "limit": MAX_POINTS}
                    ]
                }
            )
        total = buckets * len(data["items"])
        if total > settings.BATCH_MAX_POINTS:
            raise serializers.ValidationError(
                {
                    "step": [
                        _(
                            "%(points)d points requested in all (%(items)d series); at most %(limit)d per "
                            "request (BATCH_MAX_POINTS): use a larger step, a shorter range or fewer series."
                        )
                        % {"points": total, "items": len(data["items"]), "limit": settings.BATCH_MAX_POINTS}
                    ]
                }
            )
        return {**data, "since": since, "until": until, "step": step}


class BatchResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    host = serializers.CharField(allow_null=True, help_text="null: all hosts together")
    aggregate = serializers.CharField()
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        required=False,
        help_text="[bucket start (unix seconds), value] for each bucket with data (without fill)",
    )
    values = serializers.ListField(
        child=serializers.FloatField(allow_null=True),
        required=False,
        help_text="one value per entry of `times`, null where the bucket has no data (with fill)",
    )


class BatchResponseSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    step = serializers.IntegerField(help_text="seconds")
    times = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="bucket starts, unix seconds (with fill)"
    )
    results = BatchResultSerializer(many=True, help_text="in the order of the request's items")


class BatchReadAccess(ApiAccess):
    """The read policy for a read sent as POST, plus the dashboard's viewers (monitor/dashboard/access.py)."""

    def has_permission(self, request, view) -> bool:
        from monitor.dashboard.access import may_view

        return self.may_read(request) or may_view(request.user)


@extend_schema(
    operation_id="resources_series_batch",
    request=BatchRequestSerializer,
    parameters=RETRY_AFTER,
    responses={
        200: BatchResponseSerializer,
        **errors(
            (400, 401, 403, 413, 415, 429, 503),
            {400: OpenApiResponse({"oneOf": [ref("Detail"), ref("BatchErrors")]}, "Bad input, nothing read.")},
        ),
    },
    description=(
        "Many series over one range in one request, each computed like `resources/series/`. "
        "At most BATCH_MAX_ITEMS (200) items per request (413 beyond), at most 11,000 points per item "
        "and BATCH_MAX_POINTS (250,000) in all (400 naming `step` beyond). A read: a token of either "
        "scope or a staff (or DASHBOARD_GROUP) session, which must send its CSRF token."
    ),
    examples=[
        OpenApiExample(
            "A host's CPU and memory over a day, one point every 5 minutes, aligned for a chart",
            request_only=True,
            value={
                "since": "2026-11-24T10:00:00Z",
                "until": "2026-11-25T10:00:00Z",
                "step": "5m",
                "fill": True,
                "items": [
                    {"name": "cpu.percent", "host": "web-1"},
                    {"name": "memory.used_percent", "host": "web-1", "aggregate": "max"},
                ],
            },
        )
    ],
)
@api_view(["POST"])
@permission_classes([BatchReadAccess])
@throttle_classes([])  # a read: API_WRITE_RATE counts writes only
def series_batch(request: Request) -> Response:
    """Many series over one time range: what a dashboard view draws, in one request."""
    items = request.data.get("items") if isinstance(request.data, dict) else None
    limit = settings.BATCH_MAX_ITEMS
    if isinstance(items, list) and len(items) > limit:
        return Response(
            {
                "detail": _("%(count)d series in one request; the limit is %(limit)d (BATCH_MAX_ITEMS).")
                % {"count": len(items), "limit": limit}
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    serializer = BatchRequestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return Response(answer(serializer.validated_data))


def answer(query: dict) -> dict:
    """Every item's series over the query's range: one catalog query for all items, then one query per
    rollup tier (and aggregate) for all of them (`series_points_many`), each item as `series_points` answers it."""
    since, until = to_us(query["since"]), to_us(query["until"])
    step = query["step"]
    ids = series_ids([(item["name"], item.get("host")) for item in query["items"]])
    first = since // (step * US) * step  # the bucket `since` falls in (buckets start at multiples of step)
    times = list(range(first, -(-until // US), step)) if query["fill"] else None
    items = [(item["name"], item.get("host"), item.get("aggregate") or query["aggregate"]) for item in query["items"]]
    answers: dict[int, list] = {}
    for aggregate in {aggregate for _name, _host, aggregate in items}:  # one pass over the tiers per aggregate
        picked = [index for index, item in enumerate(items) if item[2] == aggregate]
        groups = [ids.get(items[index][:2], []) for index in picked]
        answers.update(zip(picked, series_points_many(groups, since, until, step, aggregate), strict=True))
    results = []
    for index, (name, host, aggregate) in enumerate(items):
        points = answers[index]
        result = {"name": name, "host": host, "aggregate": aggregate}
        if times is None:
            result["points"] = points
        else:
            by_bucket = dict(points)
            result["values"] = [by_bucket.get(bucket) for bucket in times]
        results.append(result)
    body = {"since": query["since"], "until": query["until"], "step": step}
    if times is not None:
        body["times"] = times
    body["results"] = results
    return body


def series_ids(wanted: list[tuple[str, str | None]]) -> dict[tuple[str, str | None], list[int]]:
    """{(name, host): [series ids]} in one catalog query; host None: that name on every host."""
    keyed = {series_key(host, name): (name, host) for name, host in wanted if host is not None}
    anywhere = {name for name, host in wanted if host is None}
    condition = Q(key__in=list(keyed)) if keyed else Q(pk__in=[])
    if anywhere:
        # The (metric) index narrows; the exact name picks (metric + labels render to one name).
        condition |= Q(metric__in={parse(name)[0] for name in anywhere}, name__in=anywhere)
    found: dict[tuple[str, str | None], list[int]] = {}
    for series_id, key, name in Series.objects.filter(condition).values_list("id", "key", "name"):
        if key in keyed:
            found.setdefault(keyed[key], []).append(series_id)
        if name in anywhere:
            found.setdefault((name, None), []).append(series_id)
    return found


def _bucket_count(since: int, until: int, step: int) -> int:
    """Buckets of `step` seconds touched by [since, until) (microseconds)."""
    size = step * US
    return (until - 1) // size - since // size + 1
