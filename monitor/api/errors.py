"""Error answers: JSON under /monitor/, and a 503 (never a 500) when the database is the cause."""

import logging
import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from monitor.database import Fault, classify
from monitor.deadline import describe
from monitor.ingest import influx

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    """DRF's handler, plus 413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE (Django says 400)
    and 503 with Retry-After for a database that is down, read-only or too slow."""
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {
                "detail": _("Request body too large: at most %(limit)d bytes.")
                % {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    fault = database_fault(exc, context.get("request"))
    if fault is not None:
        body, headers = fault_answer(fault)
        return Response(body, status=503, headers=headers)
    return drf_exception_handler(exc, context)


def fault_answer(fault: Fault) -> tuple[dict, dict]:
    """The body and headers of an API view's 503 for a database fault (the viewset's and single_post's)."""
    return {"detail": fault.message}, {"Retry-After": str(fault.retry_after)}


def database_fault(exc: BaseException, request=None) -> Fault | None:
    """The Fault behind `exc` (logged once here, with the path), or None if `exc` is not a database state."""
    fault = classify(exc, settings.DATABASE_STATEMENT_TIMEOUT)
    if fault is not None:
        path = getattr(request, "path", "?")
        logger.warning("database %s on %s: %s", fault.kind, path, describe(exc))
    return fault


def fault_response(request: HttpRequest, fault: Fault) -> HttpResponse:
    """503 with Retry-After, in the form `request`'s endpoint answers (`refusal`)."""
    response = refusal(request, 503, fault.message)
    response["Retry-After"] = str(fault.retry_after)
    return response


def refusal(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """An answer given before the view runs (a middleware's), in the form the endpoint's own answers take:
    InfluxDB's `{code, message}` for line protocol, JSON `{"detail"}` for the rest of the API (under
    /monitor/ and /api/), plain text elsewhere (the admin)."""
    if _url_name(request) in influx.URL_NAMES:
        return JsonResponse(influx.error(status, message), status=status)
    if request.path.startswith(("/monitor/", "/api/")):
        return JsonResponse({"detail": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _url_name(request: HttpRequest) -> str | None:
    try:
        return resolve(request.path_info).url_name
    except Resolver404:
        return None


def not_found(request, exception=None):
    """JSON 404s under /monitor/ (an API client cannot read Django's HTML page); elsewhere a page in the
    visitor's language saying what was not found (a host that never reported) and the way back."""
    if request.path.startswith("/monitor/"):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    said = exception.args[0] if exception is not None and exception.args else ""
    message = said if isinstance(said, str) and not isinstance(exception, Resolver404) else ""
    return render(request, "404.html", {"message": message}, status=404)


def server_error(request):
    """handler500: called while Django handles the exception, so a database state outside a DRF view
    (a middleware, the admin, a session save) still becomes its 503."""
    fault = database_fault(sys.exc_info()[1], request) if sys.exc_info()[1] is not None else None
    if fault is not None:
        return fault_response(request, fault)
    if request.path.startswith("/monitor/"):
        return JsonResponse({"detail": _("Server error.")}, status=500)
    return defaults.server_error(request)
