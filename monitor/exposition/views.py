"""/monitor/metrics: the Prometheus (text 0.0.4) or OpenMetrics answer to a scrape."""

from collections.abc import Iterator

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitor.api.schemas import READ_ERRORS, RETRY_AFTER, errors
from monitor.storage.instants import to_us

from .app import DatabaseFigures, process_figures
from .selectors import parse_selector
from .series import exposition, live


class FirstRenderer(BaseContentNegotiation):
    """Errors are JSON whatever the Accept header says; the scrape itself negotiates its own format."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return None


# The sample names a family of prometheus-client may write besides its own.
FAMILY_SUFFIXES = ("", "_total", "_created", "_bucket", "_sum", "_count", "_info")


class _Families(Collector):
    def __init__(self, found: list[Metric]):
        self.found = found

    def collect(self) -> Iterator[Metric]:
        return iter(self.found)


class MetricsView(APIView):
    """The latest value of every live series, plus the application's own figures.

    Text format 0.0.4, or OpenMetrics 1.0 when the Accept header asks for
    `application/openmetrics-text`. Reads follow the API's read policy (a token
    of any scope, or open with API_PUBLIC_READS or in the embedded mode).
    """

    renderer_classes = [JSONRenderer]
    content_negotiation_class = FirstRenderer
    throttle_classes: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter("host", str, many=True, description="only these hosts (repeat it)"),
            OpenApiParameter("name", str, many=True, description="exposed name or stored metric (repeat it)"),
            OpenApiParameter("match[]", str, many=True, description='selector, e.g. node_load1{job="node"}'),
            *RETRY_AFTER,
        ],
        responses={(200, "text/plain"): OpenApiTypes.STR, **errors((400, *READ_ERRORS))},
    )
    def get(self, request: Request) -> HttpResponse | Response:
        hosts = request.query_params.getlist("host")
        names = request.query_params.getlist("name")
        try:
            selectors = [parse_selector(text) for text in request.query_params.getlist("match[]")]
        except ValueError as exc:
            return Response({"match[]": [str(exc)]}, status=400)
        since = to_us(timezone.now()) - settings.HOST_STALE_AFTER * 1_000_000
        encoder, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
        openmetrics = content_type.startswith("application/openmetrics-text")
        app: list[Metric] = []
        if not (hosts or names or selectors):
            app = [*DatabaseFigures().collect(), *process_figures()]
        # A series pushed to us under one of our own names (a Prometheus that scrapes us and
        # remote-writes what it scraped) is left out: one family must not appear twice.
        ours = {m.name + suffix for m in app for suffix in FAMILY_SUFFIXES}
        series = exposition(live(hosts, since), names, selectors, openmetrics, reserved=ours).encode()
        # The app's part comes last: OpenMetrics' encoder ends it with the `# EOF` the whole answer needs.
        return HttpResponse(series + encoder(_Families(app)), content_type=content_type)
