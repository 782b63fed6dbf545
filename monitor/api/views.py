from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action, api_view, authentication_classes, permission_classes
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from db_django.celery import app as celery_app
from monitor.broker import BrokerUnavailable, send_tasks
from monitor.collection.schedule import COLLECTION_TASKS
from monitor.health import application_snapshot, health_snapshot
from monitor.models import Host, Resource
from monitor.storage.inserts import insert_resource, insert_resources, resource_row
from monitor.storage.queries import (
    MAX_POINTS,
    SERIES_AGGREGATES,
    SeriesQuery,
    parse_step,
    resource_latest,
    resource_series,
)

from .auth import TokenAuthentication
from .filters import ResourceFilter
from .serializers import (
    HostStatusSerializer,
    ResourceSerializer,
    SampleErrors,
    parse_sample,
    parse_samples,
    parse_time,
    sample_json,
)

SERIES_PARAMETERS = [
    OpenApiParameter("name", str, required=True, description="metric name, e.g. cpu.percent"),
    OpenApiParameter("host", str, description="host name; omitted: all hosts together"),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="ISO 8601, inclusive; default until - 1 h"),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="ISO 8601, exclusive; default now"),
    OpenApiParameter("step", str, description="60s, 5m, 1h, 1d or seconds; default 60s"),
    OpenApiParameter("aggregate", str, enum=list(SERIES_AGGREGATES), description="default avg"),
]


@extend_schema_view(
    create=extend_schema(
        request={
            "application/json": {
                "oneOf": [
                    {"$ref": "#/components/schemas/ResourceRequest"},
                    {"type": "array", "items": {"$ref": "#/components/schemas/ResourceRequest"}, "minItems": 1},
                ]
            }
        },
        responses={201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 413: OpenApiTypes.OBJECT},
        description="POST one sample (object) or up to BULK_MAX_ITEMS samples (array, all or nothing).",
    ),
    list=extend_schema(responses={200: ResourceSerializer(many=True), 400: OpenApiTypes.OBJECT}),
    retrieve=extend_schema(responses={200: ResourceSerializer, 404: OpenApiTypes.OBJECT}),
    update=extend_schema(responses={200: ResourceSerializer, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT}),
    partial_update=extend_schema(
        responses={200: ResourceSerializer, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT}
    ),
    destroy=extend_schema(responses={204: None, 404: OpenApiTypes.OBJECT}),
    latest=extend_schema(responses={200: ResourceSerializer(many=True), 400: OpenApiTypes.OBJECT}),
    series=extend_schema(parameters=SERIES_PARAMETERS, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT}),
)
class ResourceViewSet(viewsets.ModelViewSet):
    """Metric samples: list (cursor-paged, newest first), create one or many, read, update, delete.

    POST a JSON object to store one sample, or a JSON array of up to
    BULK_MAX_ITEMS samples to store them all in one multi-row INSERT (or none).
    """

    queryset = Resource.objects.all()
    serializer_class = ResourceSerializer
    filterset_class = ResourceFilter

    def create(self, request: Request, *args, **kwargs) -> Response:
        data = request.data
        now = timezone.now()
        if isinstance(data, list):
            return self._create_many(data, now)
        try:
            row = parse_sample(data, now)
        except SampleErrors as exc:
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
        row.id = insert_resource(resource_row(row))
        return Response(sample_json(row), status=status.HTTP_201_CREATED)

    def _create_many(self, items: list, now) -> Response:
        limit = settings.BULK_MAX_ITEMS
        if len(items) > limit:
            return Response(
                {"detail": f"{len(items)} samples in one request; the limit is {limit} (BULK_MAX_ITEMS)."},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        if not items:
            return Response({"detail": "Expected at least one sample."}, status=status.HTTP_400_BAD_REQUEST)
        try:
            rows = parse_samples(items, now)
        except SampleErrors as exc:
            return Response(
                {
                    "detail": f"{len(exc.errors)} of {len(items)} samples are invalid; none was stored.",
                    "items": exc.errors,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        insert_resources([resource_row(r) for r in rows])
        return Response({"created": len(rows)}, status=status.HTTP_201_CREATED)

    @action(detail=False, pagination_class=None)
    def latest(self, request: Request) -> Response:
        """The newest sample of every (name, host): what a dashboard shows on first paint.

        Filters: `host`, `name`, `name_prefix` (as on the list).
        """
        rows = self.filter_queryset(self.get_queryset())
        return Response(ResourceSerializer(resource_latest(rows), many=True).data)

    @action(detail=False, pagination_class=None, filter_backends=[])
    def series(self, request: Request) -> Response:
        """One point per `step` for one metric, aggregated in the database.

        `name` (required), `host`, `since`/`until` (ISO 8601; default the last
        hour), `step` (60s, 5m, 1h, 1d; default 60s), `aggregate` (avg, min,
        max, last, count; default avg). At most 11,000 points per request.
        """
        query = _series_query(request.query_params)
        points = resource_series(query)
        return Response(
            {
                "name": query.name,
                "host": query.host,
                "since": query.since,
                "until": query.until,
                "step": query.step,
                "aggregate": query.aggregate,
                "points": points,
            }
        )


def _series_query(params) -> SeriesQuery:
    errors: dict[str, list[str]] = {}
    name = params.get("name", "").strip()
    if not name:
        errors["name"] = ["This parameter is required."]
    now = timezone.now()
    until = _time_param(params, "until", now, errors)
    try:
        default_since = until - timedelta(hours=1)
    except OverflowError:
        default_since = until
    since = _time_param(params, "since", default_since, errors)
    try:
        step = parse_step(params.get("step", "60s"))
    except ValueError as exc:
        errors["step"] = [str(exc)]
        step = 60
    aggregate = params.get("aggregate", "avg")
    if aggregate not in SERIES_AGGREGATES:
        errors["aggregate"] = [f"Must be one of {', '.join(SERIES_AGGREGATES)}."]
    if not errors and since >= until:
        errors["since"] = ["Must be earlier than until."]
    query = SeriesQuery(name, params.get("host"), since, until, step, aggregate)
    if not errors and query.points_requested() > MAX_POINTS:
        errors["step"] = [
            f"{query.points_requested()} points requested; at most {MAX_POINTS} per request: "
            "use a larger step or a shorter range."
        ]
    if errors:
        raise ValidationError(errors)
    return query


def _time_param(params, key: str, default: datetime, errors: dict) -> datetime:
    raw = params.get(key)
    if raw is None:
        return default
    try:
        # A '+' in a query string arrives as a space unless the client encoded it.
        return parse_time(raw.strip().replace(" ", "+"))
    except ValueError as exc:
        errors[key] = [str(exc)]
        return default


@extend_schema(responses={200: HostStatusSerializer(many=True)})
@api_view(["GET"])
def hosts(request: Request) -> Response:
    """Every host that has reported, its last sample time, and whether it is stale.

    Stale: nothing for more than three collection intervals (HOST_STALE_AFTER).
    """
    now = timezone.now()
    stale_after = timedelta(seconds=settings.HOST_STALE_AFTER)
    return Response(
        [
            {
                "name": host.name,
                "first_seen": host.first_seen,
                "last_seen": host.last_seen,
                "seconds_since_last_seen": round((now - host.last_seen).total_seconds(), 3),
                "stale": now - host.last_seen > stale_after,
            }
            for host in Host.objects.order_by("name")
        ]
    )


@extend_schema(responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
def application_status(request: Request) -> Response:
    """Sessions, users, workers and task counts; answers in bounded time even with the broker down."""
    return Response(application_snapshot(celery_app, settings.STATUS_TIMEOUT))


@extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT})
@api_view(["GET"])
@permission_classes([AllowAny])
@authentication_classes([])
def health(request: Request) -> Response:
    """200 when database, broker and workers are fine (`ok`) or a host went stale (`warn`);
    503 naming what failed (`fail`). Always within 1.5 s, whatever is down.

    Open to anonymous clients (load balancers, uptime checkers), who get only the
    states' names; a token of any scope or a staff session also gets `checks`:
    errors, hosts, latencies and queue depths.
    """
    snapshot = health_snapshot(
        celery_app, settings.STATUS_TIMEOUT, settings.HOST_STALE_AFTER, authenticated=lambda: may_see_details(request)
    )
    code = status.HTTP_503_SERVICE_UNAVAILABLE if snapshot["status"] == "fail" else status.HTTP_200_OK
    return Response(snapshot, status=code)


def may_see_details(request: Request) -> bool:
    """A valid token of any scope, or the session of an active staff user.

    Runs on health's own thread (a connection of its own, closed here), within
    its budget: a database that does not answer makes the caller anonymous,
    never the answer late. A bad token is not refused: health stays open.
    """
    from django.db import connection

    try:
        try:
            if TokenAuthentication().authenticate(request) is not None:
                return True
        except AuthenticationFailed:
            return False
        user = get_user(request)
        return bool(user.is_active and user.is_staff)
    finally:
        connection.close()


@extend_schema(request=None, responses={202: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT})
@api_view(["POST"])
def collect_now(request: Request) -> Response:
    """Queue one collection cycle now (every worker's host, plus servers and queue).

    Fails fast with 503 when the broker is down or frozen, instead of blocking.
    """
    try:
        ids = send_tasks(celery_app, COLLECTION_TASKS, settings.STATUS_TIMEOUT, expires=60)
    except BrokerUnavailable as exc:
        return Response({"detail": f"Broker unavailable: {exc}"}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    return Response({"queued": ids}, status=status.HTTP_202_ACCEPTED)
