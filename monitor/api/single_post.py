"""The one-sample JSON POST to /monitor/resources/, answered without DRF's request pipeline.

Agents that push send one sample per request, so this is the API's most frequent
write. DRF's dispatch around it (its Request wrapper, content negotiation, the
authenticator, permission and throttle objects, response finalisation) cost
about a fifth of the request's Python (BENCHMARKS.md, "The single POST's own
path"). This path answers only the requests whose answer it can give exactly
as the viewset would: a POST of a JSON object that is a valid sample, a client
that accepts JSON, no session cookie, no query string or format suffix, and a
writer the policy allows, below its rate. It validates with the viewset's
`parse_sample`, stores with `store_one`, and answers with the viewset's
status, body and headers (Allow, Vary).

Every other request goes to the viewset untouched, every refusal included, so
each error answer has one implementation. Nothing this path does before it
hands a request over changes that answer: validation and the token lookup
have no effect a second pass repeats, and a throttle hit is only handed over
when it was refused, which counts an already spent window once more.
"""

import functools
from collections.abc import Callable

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from rest_framework import status

from monitor.models import Sample
from monitor.storage.inserts import Conflict, Point
from monitor.storage.queries import Row

from .auth import ApiAccess, find_token, token_header
from .errors import database_fault, fault_answer
from .renderers import FastJSONRenderer
from .serializers import SampleErrors, parse_sample, sample_json
from .throttling import TokenWriteThrottle, token_ident

# What the viewset answers in JSON (its first renderer) without a pretty-printing parameter.
ACCEPTS_JSON = frozenset(("*/*", "application/json"))
JSON = "application/json"
_renderer = FastJSONRenderer()


def store_one(point: Point) -> tuple[int, dict]:
    """Store one sample: 201 and the sample as the API shows it, or 409 and why its instant is taken."""
    try:
        ((series_id, ts),) = Sample.objects.store([point])
    except Conflict as exc:
        return status.HTTP_409_CONFLICT, {"timestamp": [exc.items[0]]}
    row = Row(series_id, ts, point.value, point.name, point.host, point.description)
    return status.HTTP_201_CREATED, sample_json(row)


def one_sample_path(viewset_view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """`viewset_view` (the router's view of the resource list) with the one-sample POST answered first."""
    headers: dict[str, str] = {}

    @functools.wraps(viewset_view)  # keeps cls, actions, initkwargs, csrf_exempt: the router and schema read them
    def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if args or kwargs or not _plain_json_post(request):
            return viewset_view(request, *args, **kwargs)
        answer = _store(request)
        if answer is None:
            return viewset_view(request, *args, **kwargs)
        if not headers:
            headers.update(_viewset_headers(viewset_view))
        return _response(*answer, headers)

    return view


def _plain_json_post(request: HttpRequest) -> bool:
    """A POST whose answer the viewset renders as compact JSON, and that no session may have sent."""
    meta = request.META
    if request.method != "POST" or meta.get("QUERY_STRING") or request.content_type != JSON:
        return False
    if request.content_params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        return False
    if settings.SESSION_COOKIE_NAME in request.COOKIES:  # the viewset checks its CSRF token
        return False
    return meta.get("HTTP_ACCEPT", "*/*") in ACCEPTS_JSON


def _store(request: HttpRequest) -> tuple[int, dict, dict] | None:
    """(status, body, extra headers) of the stored sample, or None: the viewset answers this request."""
    try:
        data = orjson.loads(request.body)
    except (orjson.JSONDecodeError, RequestDataTooBig):  # NaN tokens too: the viewset names the field
        return None
    if type(data) is not dict:
        return None
    try:
        point = parse_sample(data, timezone.now())
    except SampleErrors:
        return None
    try:
        if not _may_write(request):
            return None
        code, body = store_one(point)
    except Exception as exc:
        fault = database_fault(exc, request)
        if fault is None:
            raise
        return status.HTTP_503_SERVICE_UNAVAILABLE, *fault_answer(fault)
    return code, body, {}


def _may_write(request: HttpRequest) -> bool:
    """The viewset's authentication, permission and throttle, in its order; False for any refusal."""
    words = token_header(request)
    if words is None:
        if request.META.get("HTTP_AUTHORIZATION"):
            return False
        # Reads the (absent) session's user as SessionAuthentication does, so the answer varies by Cookie.
        if request.user.is_authenticated:
            return False
        token = None
    else:
        token = find_token(words[1].decode(errors="replace")) if len(words) == 2 else None
        if token is None:
            return False
    if not ApiAccess.may_write(token):
        return False
    return not settings.API_REQUIRE_AUTH or TokenWriteThrottle().allow(token_ident(token))


def _viewset_headers(viewset_view: Callable[..., HttpResponse]) -> dict[str, str]:
    """The headers the viewset puts on every answer of this route (Allow, and Vary when it negotiates)."""
    viewset = viewset_view.cls(**viewset_view.initkwargs)
    actions = dict(viewset_view.actions)
    if "get" in actions:
        actions.setdefault("head", actions["get"])
    for method, action in actions.items():
        setattr(viewset, method, getattr(viewset, action))
    return dict(viewset.default_response_headers)


def _response(code: int, body: dict, extra: dict, headers: dict[str, str]) -> HttpResponse:
    response = HttpResponse(_renderer.render(body, JSON, {}), status=code, content_type=JSON)
    for name, value in {**headers, **extra}.items():
        if name == "Vary":
            patch_vary_headers(response, [part.strip() for part in value.split(",")])
        else:
            response[name] = value
    return response
