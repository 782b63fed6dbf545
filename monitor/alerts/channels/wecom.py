"""WeCom (企业微信) group robot: a markdown message of at most 4096 bytes."""

from __future__ import annotations

from typing import Any

from . import GroupMessage, markdown_lines, truncate_bytes
from .http import check_robot_answer, post_json

MAX_BYTES = 4096


def render(message: GroupMessage) -> dict[str, Any]:
    text = truncate_bytes("\n".join(markdown_lines(message, limit=20)), MAX_BYTES)
    return {"msgtype": "markdown", "markdown": {"content": text}}


def deliver(channel, payload: dict[str, Any]) -> None:
    raw = post_json(channel.target, payload, channel.timeout)
    check_robot_answer(raw, "errcode")
