"""Keyset ("cursor") paging over (timestamp, series), newest first by default.

Each page starts where the previous one ended, so page 10,000 costs what
page 1 costs, and samples that arrive while a client pages cannot shift rows
into a page it already read or out of one it has not (OFFSET paging does
both). (timestamp, series id) is unique: a series holds one sample per instant.

A cursor is signed with SECRET_KEY and carries the query it belongs to (the
filters and the ordering): a bare `?cursor=` continues the same query, a
cursor sent with different filters is refused, and a cursor we did not issue
is a 400 before anything in it is read.
"""

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from monitor.storage.queries import Row, resource_rows

from .filters import SampleFilters
from .schemas import example

MAX_PAGE_SIZE = 1000
MAX_CURSOR_LENGTH = 2048
CURSOR_SALT = "monitor.api.pagination.cursor"
BAD_CURSOR = gettext_lazy("Invalid cursor: use the next/previous links as given.")
ORDERINGS = ("-timestamp", "timestamp")
QUERY_PARAMETERS = ("name", "name_prefix", "host", "since", "until", "ordering")


class ResourcePagination:
    """Pages of samples: `?page_size=` (1 to 1000), `?ordering=timestamp|-timestamp`, `?cursor=`."""

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"
    max_page_size = MAX_PAGE_SIZE

    def paginate(self, request: Request) -> list[Row]:
        self.request = request
        self.page_size = self._page_size(request)
        token = request.query_params.get(self.cursor_query_param)
        if token:
            position, backwards, query = decode_cursor(token)
            self._check_same_query(request, query)
        else:
            position, backwards, query = None, False, _query_of(request.query_params)
        self.query = query
        filters = SampleFilters.from_params(query)
        descending = query.get("ordering", "-timestamp") == "-timestamp"
        # Walking backwards is walking the opposite order, then flipping the page.
        rows = resource_rows(
            filters.series(),
            self.page_size,
            descending=descending != backwards,
            after=position,
            since=filters.since,
            until=filters.until,
        )
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if backwards:
            rows.reverse()
        self.has_next = more if not backwards else True
        self.has_previous = position is not None if not backwards else more
        self.rows = rows
        return rows

    def get_paginated_response(self, data: list) -> Response:
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.rows:
            return None
        last = self.rows[-1]
        return self._link((last.ts, last.series_id), backwards=False)

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.rows:
            return remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param)
        first = self.rows[0]
        return self._link((first.ts, first.series_id), backwards=True)

    def _link(self, position: tuple[int, int], backwards: bool) -> str:
        url = self.request.build_absolute_uri()
        for key in QUERY_PARAMETERS:  # the cursor carries them
            url = remove_query_param(url, key)
        return replace_query_param(url, self.cursor_query_param, encode_cursor(position, backwards, self.query))

    def _check_same_query(self, request: Request, query: dict) -> None:
        sent = _query_of(request.query_params)
        differing = sorted(key for key, value in sent.items() if query.get(key) != value)
        if differing:
            raise ValidationError(
                {
                    "cursor": [
                        _("This cursor belongs to another query (%(params)s differ): send one or the other.")
                        % {"params": ", ".join(differing)}
                    ]
                }
            )

    def _page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return settings.API_PAGE_SIZE
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {"page_size": [_("Must be an integer from 1 to %(max)d.") % {"max": self.max_page_size}]}
            )
        return size


def _query_of(params) -> dict:
    """The parameters that define which samples, in which order (not the page size)."""
    query = {key: params[key] for key in QUERY_PARAMETERS if params.get(key) not in (None, "")}
    if query.get("ordering", "-timestamp") not in ORDERINGS:
        raise ValidationError({"ordering": [_("Must be 'timestamp' (oldest first) or '-timestamp' (newest first).")]})
    return query


def encode_cursor(position: tuple[int, int], backwards: bool, query: dict) -> str:
    payload = {"p": list(position), "b": int(backwards), "q": query}
    return signing.dumps(payload, key=settings.SECRET_KEY, salt=CURSOR_SALT, compress=True)


def decode_cursor(token: str) -> tuple[tuple[int, int], bool, dict]:
    """(position, backwards, query) of a cursor we issued; anything else is a 400."""
    if len(token) > MAX_CURSOR_LENGTH:
        raise ValidationError({"cursor": [BAD_CURSOR]})
    try:
        payload = signing.loads(token, key=settings.SECRET_KEY, salt=CURSOR_SALT)
        ts, series_id = payload["p"]
        position = (int(ts), int(series_id))
        query = {str(k): str(v) for k, v in payload["q"].items()}
        return position, bool(payload["b"]), query
    except (signing.BadSignature, KeyError, TypeError, ValueError, AttributeError):
        raise ValidationError({"cursor": [BAD_CURSOR]}) from None


def pagination_parameters() -> list[OpenApiParameter]:
    """The paging parameters for the OpenAPI schema, with examples that run as given (the cursor's: its default)."""
    return [
        OpenApiParameter(
            "cursor",
            str,
            description="Opaque position from a next/previous link; it carries the query's filters. "
            "Empty or absent: the first page.",
            default="",
        ),
        OpenApiParameter(
            "page_size", int, description=f"Rows per page, 1 to {MAX_PAGE_SIZE} (default 100).", examples=example(100)
        ),
        OpenApiParameter(
            "ordering",
            str,
            enum=list(ORDERINGS),
            description="Newest first (-timestamp, default) or oldest first.",
            examples=example("-timestamp"),
        ),
    ]
