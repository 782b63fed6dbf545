"""Feishu / Lark custom bot: a text message; with a secret, `timestamp` and `sign` fields in the body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from . import GroupMessage, text_lines, truncate_bytes
from .http import check_robot_answer, post_json

# Feishu caps a request body at 20 KB.
MAX_BYTES = 18000


def render(message: GroupMessage) -> dict[str, Any]:
    text = truncate_bytes("\n".join([message.title(), "", *text_lines(message, limit=50)]).rstrip(), MAX_BYTES)
    return {"msg_type": "text", "content": {"text": text}}


def sign(secret: str, timestamp: int) -> str:
    """base64(HMAC-SHA256(key="<timestamp s>\\n<secret>", empty message)), as Feishu checks it."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed(payload: dict[str, Any], secret: str, timestamp: int | None = None) -> dict[str, Any]:
    if not secret:
        return payload
    timestamp = timestamp if timestamp is not None else int(time.time())
    return {"timestamp": str(timestamp), "sign": sign(secret, timestamp), **payload}


def deliver(channel, payload: dict[str, Any]) -> None:
    raw = post_json(channel.target, signed(payload, channel.secret), channel.timeout)
    # Newer answers carry `code`, older ones `StatusCode`; both are 0 on success.
    check_robot_answer(raw, "code", "StatusCode")
