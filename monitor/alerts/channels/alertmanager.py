"""Forward to an Alertmanager: POST <target>/api/v2/alerts, as Prometheus does.

Firing alerts carry an endsAt in the future (now + 4 × the channel's
repeat_interval, as Prometheus sends now + 4 × its resend delay): if this
monitor stops, Alertmanager resolves them itself after that; each repeat
pushes it on. Resolved alerts carry endsAt = when they resolved.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from . import GroupMessage, rfc3339
from .http import post_json

# Prometheus re-sends firing alerts every minute; for this channel use a
# repeat_interval well under Alertmanager's resolve_timeout (5 min by default).


def render(message: GroupMessage) -> list[dict[str, Any]]:
    now = message.planned_at or datetime.now(UTC)
    lifetime = timedelta(seconds=4 * max(float(message.repeat_interval), 60.0))
    return [
        {
            "labels": item.labels,
            "annotations": item.annotations,
            "startsAt": rfc3339(item.starts_at),
            "endsAt": rfc3339(item.ends_at if item.ends_at is not None else now + lifetime),
            "generatorURL": item.generator_url,
        }
        for item in message.alerts
    ]


def alerts_url(target: str) -> str:
    base = target.rstrip("/")
    return base if base.endswith("/api/v2/alerts") else base + "/api/v2/alerts"


def deliver(channel, payload: list[dict[str, Any]]) -> None:
    post_json(alerts_url(channel.target), payload, channel.timeout)
