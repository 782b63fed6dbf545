"""POST JSON with a timeout, by urllib (no extra dependency): what every HTTP channel does."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from . import DeliveryError

USER_AGENT = "db_django-monitor-alerts/1"


def post_json(url: str, body: Any, timeout: float) -> bytes:
    """POST `body` as JSON; the response body on 2xx, DeliveryError otherwise (status, network, timeout)."""
    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json", "User-Agent": USER_AGENT}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode(errors="replace") if exc.fp else ""
        raise DeliveryError(f"HTTP {exc.code} from {_where(url)}: {detail}".strip()) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{_where(url)}: {reason}") from exc


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
