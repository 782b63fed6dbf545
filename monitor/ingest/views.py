"""The ingest endpoints: Prometheus remote write and InfluxDB line protocol, each all or nothing.

Writes need a read-write token (the API's policy), sent the ways these agents
send one (auth.py). They are not held to API_WRITE_RATE: an agent pushes many
small batches a second, each bounded in size, and Prometheus drops a batch
answered 429 rather than retrying it.
"""

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitor.api.schemas import ERRORS, RETRY_AFTER, errors, example
from monitor.exposition.app import INGEST_DROPPED, INGEST_REFUSED, INGEST_SAMPLES
from monitor.exposition.views import FirstRenderer
from monitor.gc_pause import gc_paused
from monitor.models import Sample
from monitor.storage.inserts import Conflict
from monitor.storage.instants import to_us

from . import influx, line_protocol, remote_write
from .auth import AgentTokenAuthentication
from .bodies import BodyError, opened


# 409: another value at a stored instant; 413: unpacks beyond INGEST_MAX_BYTES; 415: an encoding or version
# the endpoint does not take; 503: the database is down (agents retry it).
class InfluxErrorSerializer(serializers.Serializer):
    """A refused line protocol batch, in InfluxDB's own form."""

    code = serializers.CharField(help_text='InfluxDB\'s code: "invalid", "request too large", "unauthorized", ...')
    message = serializers.CharField(help_text="what is wrong, naming the line")
    line = serializers.IntegerField(required=False, help_text="the first line that is wrong (1-based)")


# Ingest is not held to API_WRITE_RATE, but failed token checks are (429); 409: a clash with stored samples.
INGEST_ERRORS = (400, 401, 403, 409, 413, 415, 429, 503)
INGEST_RESPONSES = {204: None, **errors(INGEST_ERRORS, {409: ERRORS[409]})}
LINE_PROTOCOL_RESPONSES = {
    204: None,
    **{code: OpenApiResponse(InfluxErrorSerializer, ERRORS[code].description) for code in INGEST_ERRORS},
    400: OpenApiResponse(InfluxErrorSerializer, "A malformed line: nothing of the batch was stored."),
}


class IngestView(APIView):
    authentication_classes = [AgentTokenAuthentication, SessionAuthentication]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = FirstRenderer
    parser_classes: list = []  # the body is read here, as the protocol says
    throttle_classes: list = []
    protocol = ""

    def refuse(self, status: int, body: dict) -> Response:
        INGEST_REFUSED.labels(self.protocol, str(status)).inc()
        return Response(body, status=status)

    def stored(self, points: list) -> None:
        """Store all points or raise Conflict."""
        Sample.objects.store(points)
        INGEST_SAMPLES.labels(self.protocol).inc(len(points))


class RemoteWriteView(IngestView):
    """Prometheus remote write 1.0: POST a snappy-compressed protobuf WriteRequest; 204 when stored.

    Samples that are NaN or Inf (and Prometheus' stale markers) are dropped;
    anything malformed answers 400 with the reason and stores nothing.
    """

    protocol = "remote_write"

    # Left out of the OpenAPI schema: Prometheus (or Vector, Alloy) sends it, configured with
    # the URL (README: Agents), and no OpenAPI client can build a snappy protobuf body.
    @extend_schema(exclude=True)
    @gc_paused()  # decoding and storing a batch allocates many objects and no cycles (monitor/gc_pause.py)
    def post(self, request: Request) -> Response:
        content_type = request.META.get("CONTENT_TYPE", "")
        if "proto=io.prometheus.write.v2" in content_type:
            return self.refuse(
                415,
                {"detail": "Remote write 2.0 is not supported: send io.prometheus.WriteRequest (1.0)."},
            )
        encoding = request.META.get("HTTP_CONTENT_ENCODING", "snappy").strip().lower()
        if encoding != "snappy":
            return self.refuse(
                415, {"detail": f"Content-Encoding {encoding!r}: remote write bodies are snappy-compressed."}
            )
        try:
            write = remote_write.decode(request.body, settings.INGEST_MAX_BYTES)
            points, dropped = remote_write.points(write)
        except remote_write.Refused as exc:
            return self.refuse(exc.status, {"detail": str(exc)})
        try:
            self.stored(points)
        except Conflict as exc:
            index, message = next(iter(exc.items.items()))
            return self.refuse(
                409, {"detail": f"{points[index].name} at {points[index].ts} us: {message} Nothing was stored."}
            )
        for reason, count in dropped.items():
            INGEST_DROPPED.labels(self.protocol, reason).inc(count)
        return Response(status=204)


class LineProtocolView(IngestView):
    """InfluxDB line protocol (v1 /write and v2 /api/v2/write): 204 when every line is stored.

    `precision`: ns (default), us, ms, s (v1 also n, u, m, h). `db`, `bucket`,
    `org` are accepted and ignored. A malformed line answers 400 in InfluxDB's
    form, `{"code": "invalid", "message": "...line N...", "line": N}`, and nothing is stored.
    """

    protocol = "line_protocol"

    def handle_exception(self, exc: Exception) -> Response:
        """Refusals raised before or around the body's parse (token, throttle, a body over
        DATA_UPLOAD_MAX_MEMORY_SIZE, a database down) in InfluxDB's form too, not DRF's `detail`."""
        response = super().handle_exception(exc)
        detail = response.data.get("detail") if isinstance(response.data, dict) else None
        if detail is not None:
            response.data = influx.error(response.status_code, str(detail))
        return response

    @extend_schema(
        request={"text/plain": {"type": "string", "example": "cpu,host=web-1 usage_idle=97.5 1764064800"}},
        parameters=[
            OpenApiParameter("precision", str, description="ns (default), us, ms, s", examples=example("s")),
            *RETRY_AFTER,
        ],
        responses=LINE_PROTOCOL_RESPONSES,
    )
    @gc_paused()
    def post(self, request: Request) -> Response:
        precision = request.query_params.get("precision", "ns")
        try:
            line_protocol.precision_factor(precision)
            body = opened(request.body, request.META.get("HTTP_CONTENT_ENCODING", ""), settings.INGEST_MAX_BYTES)
            text = body.decode()
            points = line_protocol.points(text, precision, to_us(timezone.now()))
        except BodyError as exc:
            return self.refuse(exc.status, influx.error(exc.status, str(exc)))
        except UnicodeDecodeError as exc:
            return self.refuse(400, influx.error(400, f"body is not UTF-8: {exc}"))
        except line_protocol.Malformed as exc:
            message = f"unable to parse points: {exc}; nothing was stored"
            return self.refuse(400, {**influx.error(400, message), "line": exc.line})
        except ValueError as exc:
            return self.refuse(400, influx.error(400, str(exc)))
        try:
            self.stored(points)
        except Conflict as exc:
            index, message = next(iter(exc.items.items()))
            return self.refuse(409, influx.error(409, f"{points[index].name}: {message} Nothing was stored."))
        return Response(status=204)
