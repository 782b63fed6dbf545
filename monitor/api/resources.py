"""/monitor/resources/: samples as the notes' Resource, read and written through the storage engine."""

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from monitor.gc_pause import gc_paused
from monitor.models import Sample
from monitor.storage.edits import delete_sample, replace_sample
from monitor.storage.inserts import Conflict
from monitor.storage.queries import (
    MAX_POINTS,
    SERIES_AGGREGATES,
    Row,
    SeriesQuery,
    TooManySeries,
    parse_step,
    resource_row,
)

from .filters import SampleFilters, filter_parameters
from .pagination import ResourcePagination, pagination_parameters
from .schemas import (
    CREATE_BAD_REQUEST,
    CREATE_CONFLICT,
    CREATE_EXAMPLES,
    EXAMPLE_HOST,
    EXAMPLE_NAME,
    PATCH_EXAMPLES,
    READ_ERRORS,
    RETRY_AFTER,
    SAMPLE_EXAMPLES,
    SAMPLE_ID_PARAMETER,
    SAMPLE_ID_PATTERN,
    WRITE_ERRORS,
    errors,
    example,
    ref,
    time_parameter,
)
from .serializers import (
    BulkCreatedSerializer,
    ResourcePageSerializer,
    ResourceSerializer,
    SampleErrors,
    SeriesSerializer,
    parse_sample,
    parse_samples,
    parse_time,
    plain,
    sample_json,
)
from .single_post import one_sample_path, store_one

# Nothing wider than an INT id and a BIGINT instant reaches the database.
SAMPLE_ID = re.compile(SAMPLE_ID_PATTERN)
MAX_SERIES_ID = 2**31 - 1
MAX_TS = 2**63 - 1
SERIES_PARAMETERS = [
    OpenApiParameter(
        "name", str, required=True, description="metric name, e.g. cpu.percent", examples=example(EXAMPLE_NAME)
    ),
    OpenApiParameter("host", str, description="host name; omitted: all hosts together", examples=example(EXAMPLE_HOST)),
    time_parameter("since", "ISO 8601, inclusive; default until - 1 h", "2026-11-25T09:00:00Z"),
    time_parameter("until", "ISO 8601, exclusive; default now", "2026-11-25T11:00:00Z"),
    OpenApiParameter("step", str, description="60s, 5m, 1h, 1d or seconds; default 60s", examples=example("5m")),
    OpenApiParameter(
        "aggregate", str, enum=list(SERIES_AGGREGATES), description="default avg", examples=example("avg")
    ),
]
JSON_ONLY = "application/json"


class ResourceSchema(AutoSchema):
    """The list answers one page object (ResourcePage), not a bare array as drf-spectacular assumes of `list`."""

    def _is_list_view(self, serializer=None) -> bool:
        if getattr(self.view, "action", None) == "list":
            return False
        return super()._is_list_view(serializer)

    def get_operation_id(self) -> str:
        if getattr(self.view, "action", None) == "list":
            return "resources_list"
        return super().get_operation_id()


@extend_schema_view(
    create=extend_schema(
        request={
            JSON_ONLY: {
                "oneOf": [
                    ref("ResourceRequest"),
                    {"type": "array", "items": ref("ResourceRequest"), "minItems": 1},
                ]
            }
        },
        responses={
            201: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="Created",
                    serializers=[ResourceSerializer, BulkCreatedSerializer],
                    resource_type_field_name=None,
                ),
                "Stored: the sample (an object was sent), or how many (an array was sent).",
            ),
            **errors(WRITE_ERRORS, {400: CREATE_BAD_REQUEST, 409: CREATE_CONFLICT}),
        },
        parameters=RETRY_AFTER,
        examples=CREATE_EXAMPLES,
        description="POST one sample (an object) or up to BULK_MAX_ITEMS samples (an array, all or nothing). "
        "A repeat of a stored sample (same series, timestamp and value) is stored once and answers 201 again.",
    ),
    list=extend_schema(
        description="Samples newest first (or oldest, `ordering=timestamp`), a page at a time: follow `next`.",
        parameters=[*filter_parameters(), *pagination_parameters(), *RETRY_AFTER],
        responses={200: ResourcePageSerializer, **errors((400, *READ_ERRORS))},
    ),
    retrieve=extend_schema(
        description="One sample by its id.",
        parameters=[SAMPLE_ID_PARAMETER, *RETRY_AFTER],
        responses={200: ResourceSerializer, **errors((404, *READ_ERRORS))},
        examples=SAMPLE_EXAMPLES,
    ),
    update=extend_schema(
        description="Replace a sample: name and value required; without timestamp it keeps its own. "
        "A new name, host or timestamp moves it (the answer carries its new id).",
        parameters=[SAMPLE_ID_PARAMETER, *RETRY_AFTER],
        request={JSON_ONLY: ResourceSerializer},
        responses={200: ResourceSerializer, **errors((404, 409, *WRITE_ERRORS))},
        examples=SAMPLE_EXAMPLES,
    ),
    partial_update=extend_schema(
        description="Change some fields of a sample; the others keep their values.",
        parameters=[SAMPLE_ID_PARAMETER, *RETRY_AFTER],
        request={JSON_ONLY: ResourceSerializer},
        responses={200: ResourceSerializer, **errors((404, 409, *WRITE_ERRORS))},
        examples=PATCH_EXAMPLES,
    ),
    destroy=extend_schema(
        description="Delete one sample (the series' rollups and latest value follow).",
        parameters=[SAMPLE_ID_PARAMETER, *RETRY_AFTER],
        responses={204: None, **errors((404, 401, 403, 429, 503))},
    ),
    latest=extend_schema(
        parameters=[*filter_parameters(times=False), *RETRY_AFTER],
        responses={200: ResourceSerializer(many=True), **errors((400, *READ_ERRORS))},
    ),
    series=extend_schema(
        parameters=[*SERIES_PARAMETERS, *RETRY_AFTER],
        responses={200: SeriesSerializer, **errors((400, *READ_ERRORS))},
    ),
)
class ResourceViewSet(viewsets.GenericViewSet):
    """Metric samples: list (cursor-paged, newest first), create one or many, read, update, delete.

    The list and `latest` span at most API_MAX_SERIES (50,000) series per request:
    more answer 400 asking for a filter (host, name, name_prefix).

    POST a JSON object to store one sample, or a JSON array of up to
    BULK_MAX_ITEMS samples to store them all at once (or none).
    """

    serializer_class = ResourceSerializer
    schema = ResourceSchema()
    lookup_field = "id"
    lookup_value_regex = r"\d+--?\d+"
    queryset = Sample.objects.none()  # for the schema and the router; the rows come from monitor/storage

    @classmethod
    def as_view(cls, actions=None, **initkwargs):
        """The list route's view answers the one-sample JSON POST on its own short path (single_post.py)."""
        view = super().as_view(actions, **initkwargs)
        return one_sample_path(view) if actions and actions.get("post") == "create" else view

    def list(self, request: Request) -> Response:
        paginator = ResourcePagination()
        rows = paginator.paginate(request)
        return paginator.get_paginated_response([sample_json(row) for row in rows])

    def create(self, request: Request) -> Response:
        data = request.data
        now = timezone.now()
        if isinstance(data, list):
            return self._create_many(data, now)
        try:
            point = parse_sample(plain(data), now)
        except SampleErrors as exc:
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
        code, body = store_one(point)
        return Response(body, status=code)

    @gc_paused()  # 5,000 samples allocate ~100 collections' worth of tuples and objects, none of them cycles
    def _create_many(self, items: list, now: datetime) -> Response:
        limit = settings.BULK_MAX_ITEMS
        if len(items) > limit:
            return Response(
                {
                    "detail": _("%(count)d samples in one request; the limit is %(limit)d (BULK_MAX_ITEMS).")
                    % {"count": len(items), "limit": limit}
                },
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        if not items:
            return Response({"detail": _("Expected at least one sample.")}, status=status.HTTP_400_BAD_REQUEST)
        try:
            points = parse_samples(items, now)
        except SampleErrors as exc:
            return Response(
                {
                    "detail": _("%(bad)d of %(count)d samples are invalid; none was stored.")
                    % {"bad": len(exc.errors), "count": len(items)},
                    "items": exc.errors,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            Sample.objects.store(points)
        except Conflict as exc:
            return Response(
                {
                    "detail": _("%(bad)d of %(count)d samples clash with stored ones; none was stored.")
                    % {"bad": len(exc.items), "count": len(items)},
                    "items": {str(index): {"timestamp": [message]} for index, message in exc.items.items()},
                },
                status=status.HTTP_409_CONFLICT,
            )
        return Response({"created": len(points)}, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, id: str) -> Response:
        # serializer.data (not a plain dict) names the sample: the browsable API fills its PUT form from it.
        return Response(ResourceSerializer(self._row(id)).data)

    def update(self, request: Request, id: str, partial: bool = False) -> Response:
        row = self._row(id)
        serializer = ResourceSerializer(row, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        try:
            key = replace_sample(row.series_id, row.ts, serializer.validated_data)
        except Conflict as exc:
            return Response({"timestamp": [exc.items[0]]}, status=status.HTTP_409_CONFLICT)
        if key is None:  # another request removed or moved it meanwhile
            raise Http404
        return Response(ResourceSerializer(resource_row(*key)).data)

    def partial_update(self, request: Request, id: str) -> Response:
        return self.update(request, id, partial=True)

    def destroy(self, request: Request, id: str) -> Response:
        row = self._row(id)
        if not delete_sample(row.series_id, row.ts):  # another request removed or moved it meanwhile
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_object(self) -> Row:
        """The sample named in the URL (the browsable API's forms and OPTIONS use it)."""
        return self._row(self.kwargs["id"])

    def _row(self, sample_id: str) -> Row:
        match = SAMPLE_ID.match(sample_id)
        if match is None:
            raise Http404
        series_id, ts = int(match.group(1)), int(match.group(2))
        row = resource_row(series_id, ts) if series_id <= MAX_SERIES_ID and -MAX_TS <= ts <= MAX_TS else None
        if row is None:
            raise Http404
        return row

    @action(detail=False)
    def latest(self, request: Request) -> Response:
        """The newest sample of every (name, host): what a dashboard shows on first paint.

        Filters: `host`, `name`, `name_prefix` (as on the list). Read from the
        series catalog and each series' latest value: no sample is scanned. At most
        API_MAX_SERIES (50,000) series per request: more answer 400 asking for a filter.
        """
        filters = SampleFilters.from_params(request.query_params, times=False)
        with gc_paused():  # the rows are gone by its end; the answer's dicts hold no tracked objects
            try:
                rows = filters.series(bounded=False).latest_rows(settings.API_MAX_SERIES)
            except TooManySeries:
                raise filters.too_many() from None
            answer = [sample_json(row) for row in rows]
            del rows
        return Response(answer)

    @action(detail=False)
    def series(self, request: Request) -> Response:
        """One point per `step` for one metric, aggregated in the database.

        `name` (required), `host`, `since`/`until` (ISO 8601; default the last
        hour), `step` (60s, 5m, 1h, 1d; default 60s), `aggregate` (avg, min,
        max, last, count; default avg). At most 11,000 points per request.
        Steps of whole minutes or hours read the per-minute or per-hour rollups.
        """
        query = _series_query(request.query_params)
        points = Sample.objects.series(query)
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
        errors["name"] = [_("This parameter is required.")]
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
        errors["aggregate"] = [_("Must be one of %(choices)s.") % {"choices": ", ".join(SERIES_AGGREGATES)}]
    if not errors and since >= until:
        errors["since"] = [_("Must be earlier than until.")]
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
