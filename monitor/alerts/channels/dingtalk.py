"""DingTalk (钉钉) group robot: a markdown message; with a secret, timestamp and HMAC-SHA256 sign in the query."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import quote_plus

from . import GroupMessage, markdown_lines, truncate_bytes
from .http import check_robot_answer, post_json

# DingTalk refuses markdown much past 20,000 bytes.
MAX_BYTES = 20000


def render(message: GroupMessage) -> dict[str, Any]:
    text = truncate_bytes("\n".join(markdown_lines(message, limit=50)), MAX_BYTES)
    return {"msgtype": "markdown", "markdown": {"title": message.title(), "text": text}}


def sign(secret: str, timestamp_ms: int) -> str:
    """base64(HMAC-SHA256(key=secret, "<timestamp ms>\\n<secret>")), as DingTalk checks it."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_url(url: str, secret: str, timestamp_ms: int | None = None) -> str:
    if not secret:
        return url
    timestamp_ms = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={quote_plus(sign(secret, timestamp_ms))}"


def deliver(channel, payload: dict[str, Any]) -> None:
    raw = post_json(signed_url(channel.target, channel.secret), payload, channel.timeout)
    check_robot_answer(raw, "errcode")
