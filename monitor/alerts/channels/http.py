"""POST JSON with a timeout, by urllib (no extra dependency): what every HTTP channel does."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from typing import Any

from . import DeliveryError, shut_at

USER_AGENT = "db_django-monitor-alerts/1"


def post_json(url: str, body: Any, timeout: float) -> bytes:
    """POST `body` as JSON; the response body on 2xx, DeliveryError otherwise (status, network, timeout).

    `timeout` bounds the whole exchange, not each read: urllib's own timeout lets a
    receiver that drips its answer a byte at a time hold the sender for ever, past
    the outbox lease, after which another sender delivered the same message again.
    """
    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json", "User-Agent": USER_AGENT}
    )
    deadline = time.monotonic() + timeout
    opener = urllib.request.build_opener(_BoundedHTTP(deadline), _BoundedHTTPS(deadline))
    try:
        with opener.open(request, timeout=timeout) as response:
            answer = response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode(errors="replace") if exc.fp else ""
        raise DeliveryError(f"HTTP {exc.code} from {_where(url)}: {detail}".strip()) from exc
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        if time.monotonic() >= deadline:
            raise DeliveryError(f"{_where(url)}: no complete answer within {timeout:g} s") from exc
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{_where(url)}: {reason}") from exc
    if time.monotonic() >= deadline:
        raise DeliveryError(f"{_where(url)}: no complete answer within {timeout:g} s")
    return answer


def _bounded(base: type[http.client.HTTPConnection], deadline: float) -> type[http.client.HTTPConnection]:
    """`base` whose socket is shut at `deadline`: whatever read or write is under way then ends."""

    class Bounded(base):
        def connect(self) -> None:
            super().connect()
            # Our own reference: urllib drops the connection's once the headers are in, while the
            # response goes on reading the body from the same socket.
            shut_at(self.sock, deadline)

    return Bounded


class _BoundedHTTP(urllib.request.HTTPHandler):
    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):
        return self.do_open(_bounded(http.client.HTTPConnection, self.deadline), req)


class _BoundedHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req):
        return self.do_open(_bounded(http.client.HTTPSConnection, self.deadline), req, context=self._context)


def check_robot_answer(raw: bytes, *fields: str) -> None:
    """Robots answer 200 with an error code in the body: any of `fields` present and != 0 is a failure."""
    try:
        answer = json.loads(raw or b"{}")
    except ValueError as exc:
        raise DeliveryError(f"robot answered something other than JSON: {raw[:200]!r}") from exc
    if not isinstance(answer, dict):
        raise DeliveryError(f"robot answered {raw[:200]!r}")
    for name in fields:
        code = answer.get(name)
        if code not in (None, 0, "0"):
            message = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or ""
            raise DeliveryError(f"robot refused the message: {name}={code} {message}".strip())


def _where(url: str) -> str:
    """The URL without its query (DingTalk and WeCom put their access token there)."""
    return url.split("?", 1)[0]
