"""/monitor/ endpoints beside the samples: hosts, application status, health, collect now."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from db_django.celery import app as celery_app
from monitor.broker import BrokerUnavailable, send_tasks
from monitor.collection.schedule import COLLECTION_TASKS
from monitor.health import application_snapshot, health_snapshot
from monitor.models import Host

from .auth import TokenAuthentication
from .serializers import HostStatusSerializer


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
        return Response(
            {"detail": _("Broker unavailable: %(error)s") % {"error": exc}}, status=status.HTTP_503_SERVICE_UNAVAILABLE
        )
    return Response({"queued": ids}, status=status.HTTP_202_ACCEPTED)
