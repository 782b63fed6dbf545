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


def render(message: GroupMessage) -> dict[str, Any]:
    """The alerts as Alertmanager takes them, and which of them fire: their endsAt is set when sent."""
    planned = message.planned_at or datetime.now(UTC)
    until = planned + _lifetime(message.repeat_interval)
    alerts = [
        {
            "labels": item.labels,
            "annotations": item.annotations,
            "startsAt": rfc3339(item.starts_at),
            "endsAt": rfc3339(item.ends_at if item.ends_at is not None else until),
            "generatorURL": item.generator_url,
        }
        for item in message.alerts
    ]
    firing = [index for index, item in enumerate(message.alerts) if item.ends_at is None]
    return {"alerts": alerts, "firing": firing}


def alerts_url(target: str) -> str:
    base = target.rstrip("/")
    return base if base.endswith("/api/v2/alerts") else base + "/api/v2/alerts"


def deliver(channel, payload: dict[str, Any] | list[dict[str, Any]]) -> None:
    """POST the alerts, firing ones ending `lifetime` after now: a message delivered after retries
    (up to an hour) carried the endsAt of when it was planned, already past, and Alertmanager took
    the alert for resolved before any receiver heard it fire."""
    if isinstance(payload, list):  # queued by an earlier version
        post_json(alerts_url(channel.target), payload, channel.timeout)
        return
    ends = rfc3339(datetime.now(UTC) + _lifetime(channel.repeat_interval))
    alerts = [
        {**alert, "endsAt": ends} if index in payload["firing"] else alert
        for index, alert in enumerate(payload["alerts"])
    ]
    post_json(alerts_url(channel.target), alerts, channel.timeout)


def _lifetime(repeat_interval: float) -> timedelta:
    return timedelta(seconds=4 * max(float(repeat_interval), 60.0))
