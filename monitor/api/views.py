"""/monitor/ endpoints beside the samples: the API root, hosts, application status, health, collect now."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user
from django.urls import NoReverseMatch
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from db_django.celery import app as celery_app
from monitor.broker import BrokerUnavailable, send_tasks
from monitor.collection.schedule import COLLECTION_TASKS
from monitor.health import application_snapshot, health_snapshot
from monitor.models import CounterState, Host
from monitor.storage.router import replica_read

from .auth import TokenAuthentication
from .schemas import (
    READ_ERRORS,
    RETRY_AFTER,
    ApplicationStatusSerializer,
    CollectQueuedSerializer,
    HealthSerializer,
    errors,
)
from .serializers import HostStatusSerializer

# The API root's list, in the order a newcomer reads it: label -> URL name. An entry whose
# route is not installed is left out (metrics: only with the Prometheus ingest).
ROOT_ENDPOINTS = (
    ("resources", "resource-list"),
    ("latest", "resource-latest"),
    ("series", "resource-series"),
    ("hosts", "hosts"),
    ("application", "application_status"),
    ("health", "health"),
    ("collect", "collect_now"),
    ("alerts", "alert-list"),
    ("alert_rules", "alertrule-list"),
    ("alert_events", "alert-events"),
    ("silences", "silence-list"),
    ("metrics", "metrics"),
    ("schema", "schema"),
    ("docs", "docs"),
)

# Seconds a client waits before asking collect again after the broker failed (it is checked per request).
COLLECT_RETRY_AFTER = 5


@extend_schema(exclude=True)
@api_view(["GET"])
def api_root(request: Request) -> Response:
    """Every endpoint of the monitor API, each with its URL: follow them."""
    found = {}
    for label, name in ROOT_ENDPOINTS:
        try:
            found[label] = reverse(name, request=request)
        except NoReverseMatch:
            continue
    return Response(found)


@extend_schema(parameters=RETRY_AFTER, responses={200: HostStatusSerializer(many=True), **errors(READ_ERRORS)})
@api_view(["GET"])
@replica_read
def hosts(request: Request) -> Response:
    """Every host that has reported, its last sample time, whether it is stale, and who sends its samples.

    Stale: nothing for more than three collection intervals (HOST_STALE_AFTER).
    Hosts of collection cycles and of samples sent to the API (agents) alike.
    """
    now = timezone.now()
    stale_after = timedelta(seconds=settings.HOST_STALE_AFTER)
    collected = worker_hosts()
    return Response(
        [
            {
                "name": host.name,
                "first_seen": host.first_seen,
                "last_seen": host.last_seen,
                "seconds_since_last_seen": round((now - host.last_seen).total_seconds(), 3),
                "stale": now - host.last_seen > stale_after,
                "source": "worker" if host.name in collected else "push",
            }
            for host in Host.objects.order_by("name")
        ]
    )


def worker_hosts() -> set[str]:
    """Hosts a worker of this deployment collects: each keeps its counter readings (one row per host)."""
    return set(CounterState.objects.filter(source="host").values_list("key", flat=True))


FRESH = serializers.BooleanField(help_text="ask the workers now instead of reading their latest report")


@extend_schema(
    parameters=[OpenApiParameter("fresh", bool, description=FRESH.help_text, required=False), *RETRY_AFTER],
    responses={200: ApplicationStatusSerializer, **errors((400, *READ_ERRORS))},
)
@api_view(["GET"])
def application_status(request: Request) -> Response:
    """Sessions, users, workers and task counts, with when the workers reported them (`reported_at`, `age_seconds`).

    Read from the workers' report of their latest server-status cycle while it
    is at most STATUS_REPORT_MAX_AGE old (milliseconds); otherwise, or with
    `?fresh=1`, the workers are asked now, within STATUS_TIMEOUT even with the
    broker down or frozen.
    """
    try:
        fresh = FRESH.to_internal_value(request.query_params.get("fresh", "0"))
    except ValidationError as exc:
        return Response({"fresh": exc.detail}, status=status.HTTP_400_BAD_REQUEST)
    return Response(
        application_snapshot(celery_app, settings.STATUS_TIMEOUT, settings.STATUS_REPORT_MAX_AGE, fresh=fresh)
    )


@extend_schema(
    responses={
        200: OpenApiResponse(HealthSerializer, "ok, or warn: a host went stale or a critical alert fires."),
        503: OpenApiResponse(HealthSerializer, "fail: the checks named in `failed` did."),
    }
)
@api_view(["GET"])
@permission_classes([AllowAny])
@authentication_classes([])
def health(request: Request) -> Response:
    """200 when database, broker and workers are fine (`ok`), or a host went stale or a critical alert fires (`warn`);
    503 naming what failed (`fail`). Always within 1.5 s, whatever is down.

    Open to anonymous clients (load balancers, uptime checkers), who get only the
    states' names; a token of any scope or a staff session also gets `checks`:
    errors, hosts, latencies and queue depths.
    """
    snapshot = health_snapshot(
        celery_app,
        settings.STATUS_TIMEOUT,
        settings.HOST_STALE_AFTER,
        authenticated=lambda: may_see_details(request),
        alerts_listed=settings.ALERTS_HEALTH_LIST,
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


@extend_schema(
    request=None,
    parameters=RETRY_AFTER,
    responses={202: CollectQueuedSerializer, **errors((401, 403, 429, 503))},
)
@api_view(["POST"])
def collect_now(request: Request) -> Response:
    """Queue one collection cycle now (every worker's host, plus servers and queue).

    Fails fast with 503 when the broker is down or frozen, instead of blocking.
    """
    try:
        ids = send_tasks(celery_app, COLLECTION_TASKS, settings.STATUS_TIMEOUT, expires=60)
    except BrokerUnavailable as exc:
        return Response(
            {"detail": _("Broker unavailable: %(error)s") % {"error": exc}},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(COLLECT_RETRY_AFTER)},
        )
    return Response({"queued": ids}, status=status.HTTP_202_ACCEPTED)
