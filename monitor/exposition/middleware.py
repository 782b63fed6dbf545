"""Counts every answer and its time by route (db_django_http_requests_total, ..._duration_seconds)."""

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .app import HTTP_REQUESTS, HTTP_SECONDS


class RequestMetrics:
    """Middleware: one counter increment and one histogram observation per request.

    Labelled by the route's name (`resource-list`, `metrics`), not the path, so
    the number of series stays bounded whatever clients ask for.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.url_name or match.view_name or "unnamed") if match else "unmatched"
        HTTP_SECONDS.labels(view).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        return response
