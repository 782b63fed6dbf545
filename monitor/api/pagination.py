"""Keyset ("cursor") paging over (timestamp, id).

Each page is one index range scan that starts where the previous page ended, so
page 10,000 costs what page 1 costs, and rows inserted while a client pages
through cannot shift rows into a page it already read or out of one it has not
(OFFSET paging does both). The ordering key is unique because `id` breaks ties
between rows that share a timestamp (every row of one collection cycle does).
"""

from dataclasses import dataclass
from datetime import datetime

from django.core import signing
from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param

from .serializers import to_utc

MAX_PAGE_SIZE = 1000
# Cursors are signed (HMAC-SHA256 with SECRET_KEY) under this salt, so only a
# cursor this site issued decodes; no client may build or alter one.
CURSOR_SALT = "monitor.api.cursor"
# A cursor of ours is about 140 characters; the bound leaves room for the
# filters and ordering a later cursor will carry, and is checked before anything
# is decoded, so a megabyte of cursor costs one len().
MAX_CURSOR_LENGTH = 2048
MAX_ROW_ID = 2**63 - 1  # BigAutoField


@dataclass(frozen=True)
class Cursor:
    """A position in (timestamp, id) order, sent to clients as a signed, opaque token.

    The token is a JSON object (`{"ts", "id", "back"}`) signed by Django's
    `Signer` (base64 payload, then the signature), so further fields (the
    query a cursor belongs to) can be added beside them.
    """

    timestamp: datetime
    id: int
    backwards: bool  # True: the page before this position (a "previous" link)

    def encode(self) -> str:
        payload = {"ts": self.timestamp.isoformat(), "id": self.id, "back": self.backwards}
        return signing.Signer(salt=CURSOR_SALT).sign_object(payload)

    @classmethod
    def decode(cls, token: str) -> "Cursor":
        """The cursor in `token`, or a 400 for anything this site did not issue."""
        if len(token) > MAX_CURSOR_LENGTH:
            raise _invalid_cursor()
        try:
            # The signature is checked first: a forged payload is never parsed.
            payload = signing.Signer(salt=CURSOR_SALT).unsign_object(token)
        except signing.BadSignature:
            raise _invalid_cursor() from None
        return cls._from_payload(payload)

    @classmethod
    def _from_payload(cls, payload: object) -> "Cursor":
        # Signed by us, but perhaps by another version of this code: check the shape.
        if not isinstance(payload, dict):
            raise _invalid_cursor()
        ts, row_id, backwards = payload.get("ts"), payload.get("id"), payload.get("back")
        if not (isinstance(ts, str) and type(row_id) is int and 0 < row_id <= MAX_ROW_ID and type(backwards) is bool):
            raise _invalid_cursor()
        try:
            return cls(to_utc(datetime.fromisoformat(ts)), row_id, backwards)
        except ValueError:
            raise _invalid_cursor() from None


def _invalid_cursor() -> ValidationError:
    return ValidationError({"cursor": ["Invalid cursor: use the next/previous links as given."]})


class ResourceCursorPagination(BasePagination):
    """Pages of Resource rows: `?page_size=` (max 1000), `?ordering=timestamp|-timestamp`."""

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None) -> list:
        self.request = request
        self.page_size = self._page_size(request)
        self.descending = self._descending(request)
        token = request.query_params.get(self.cursor_query_param)
        cursor = Cursor.decode(token) if token else None
        backwards = bool(cursor and cursor.backwards)
        # Walking backwards is walking the opposite order, then flipping the page.
        descending = self.descending != backwards
        if cursor is not None:
            queryset = queryset.filter(_after(cursor, descending))
        sign = "-" if descending else ""
        rows = list(queryset.order_by(f"{sign}timestamp", f"{sign}id")[: self.page_size + 1])
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if backwards:
            rows.reverse()
        self.has_next = more if not backwards else True
        self.has_previous = cursor is not None if not backwards else more
        self.rows = rows
        return rows

    def get_paginated_response(self, data) -> Response:
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        def param(name: str, description: str, schema: dict) -> dict:
            return {"name": name, "required": False, "in": "query", "description": description, "schema": schema}

        return [
            param(self.cursor_query_param, "Opaque position from a next/previous link.", {"type": "string"}),
            param(
                self.page_size_query_param,
                f"Rows per page, 1 to {self.max_page_size}.",
                {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            ),
            param(
                self.ordering_query_param,
                "Newest first (-timestamp, default) or oldest first (timestamp).",
                {"type": "string", "enum": ["-timestamp", "timestamp"]},
            ),
        ]

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.rows:
            return None
        last = self.rows[-1]
        return self._link(Cursor(last.timestamp, last.id, backwards=False))

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.rows:
            return remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param)
        first = self.rows[0]
        return self._link(Cursor(first.timestamp, first.id, backwards=True))

    def _link(self, cursor: Cursor) -> str:
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, cursor.encode())

    def _page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return api_settings.PAGE_SIZE or 100
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError({"page_size": [f"Must be an integer from 1 to {self.max_page_size}."]})
        return size

    def _descending(self, request: Request) -> bool:
        ordering = request.query_params.get(self.ordering_query_param, "-timestamp")
        if ordering not in ("timestamp", "-timestamp"):
            raise ValidationError({"ordering": ["Must be 'timestamp' (oldest first) or '-timestamp' (newest first)."]})
        return ordering == "-timestamp"


def _after(cursor: Cursor, descending: bool) -> Q:
    """Rows strictly past the cursor position in the walking order.

    Written as `ts <= x AND (ts < x OR id < y)` rather than a plain OR so the
    first term alone bounds an index range scan on MySQL.
    """
    if descending:
        return Q(timestamp__lte=cursor.timestamp) & (Q(timestamp__lt=cursor.timestamp) | Q(id__lt=cursor.id))
    return Q(timestamp__gte=cursor.timestamp) & (Q(timestamp__gt=cursor.timestamp) | Q(id__gt=cursor.id))
