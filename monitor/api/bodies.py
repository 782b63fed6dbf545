"""Whole request bodies or none: a body is read completely before any view sees it.

A WSGI server hands the application a stream. When a client sends fewer bytes
than its Content-Length and closes, the stream simply ends early: Django and DRF
parse what arrived, so `value=12345` cut to `value=12` was stored as 12, and a
bulk array cut after its first item stored that item. A chunked body (no
Content-Length) is the opposite case: gunicorn decodes it, but Django reads
`CONTENT_LENGTH` bytes, that is none, and the view saw an empty body.

This middleware reads every body up front, bounded by DATA_UPLOAD_MAX_MEMORY_SIZE,
and refuses one that is shorter than announced (400) or, chunked, longer than
the limit (413). Nothing that is refused reaches a view, so nothing is stored.
Bodies announced above the limit are left to Django, which refuses them unread.
"""

from collections.abc import Callable
from io import BytesIO

from django.conf import settings
from django.http import HttpRequest, HttpResponse, UnreadablePostError
from django.utils.translation import gettext as _

from .errors import refusal


def too_large_detail() -> str:
    """The 413 message, the same whichever way a body turned out too large."""
    return _("Request body too large: at most %(limit)d bytes.") % {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}


class RequestBodyGuard:
    """Middleware: the body the view parses is the whole body the client announced, or the request is refused."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            refused = _read_chunked(request)
        else:
            refused = _read_declared(request)
        return refused or self.get_response(request)


def _read_declared(request: HttpRequest) -> HttpResponse | None:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None  # Django reads such a body as empty; gunicorn refuses it before us
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if declared <= 0 or (limit is not None and declared > limit):
        return None  # nothing to read, or refused unread (413) where it is parsed
    try:
        got = len(request.body)  # Django keeps it: parsers read it from memory
    except UnreadablePostError:  # the connection failed mid-body (reset)
        return refusal(request, 400, _("Request body truncated: the connection failed before the body was complete."))
    if got < declared:
        return refusal(
            request,
            400,
            _("Request body truncated: got %(got)d of %(declared)d bytes.") % {"got": got, "declared": declared},
        )
    return None


def _read_chunked(request: HttpRequest) -> HttpResponse | None:
    # A server that decodes Transfer-Encoding says so (gunicorn, mod_wsgi); the
    # development server does not, and reading its raw stream would block.
    if not request.META.get("wsgi.input_terminated"):
        return refusal(request, 411, _("Length required: send the body with a Content-Length header."))
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    stream = request.META["wsgi.input"]
    try:
        data = stream.read() if limit is None else stream.read(limit + 1)
    except Exception:  # noqa: BLE001 - the server's own chunk-parse errors, which the app cannot name
        return refusal(
            request, 400, _("Request body truncated or malformed: the chunked encoding did not end properly.")
        )
    if limit is not None and len(data) > limit:
        return refusal(request, 413, too_large_detail())
    # From here on the request looks as if it had come with a Content-Length:
    # Django and DRF read CONTENT_LENGTH bytes from the request's stream.
    request._stream = BytesIO(data)
    request.META["CONTENT_LENGTH"] = str(len(data))
    return None
