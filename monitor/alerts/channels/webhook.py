"""Alertmanager's webhook JSON, version 4, exactly: receivers written for Alertmanager work unchanged."""

from __future__ import annotations

from typing import Any

from . import MAX_ALERTS_SHOWN, GroupMessage, rfc3339
from .http import post_json


def render(message: GroupMessage) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": message.group_key,
        # Alertmanager's max_alerts: the first ones are listed, firing before resolved, the rest counted.
        "truncatedAlerts": max(len(message.alerts) - MAX_ALERTS_SHOWN, 0),
        "status": message.status,
        "receiver": message.receiver,
        "groupLabels": message.group_labels,
        "commonLabels": message.common("labels"),
        "commonAnnotations": message.common("annotations"),
        "externalURL": message.external_url,
        "alerts": [
            {
                "status": item.status,
                "labels": item.labels,
                "annotations": item.annotations,
                "startsAt": rfc3339(item.starts_at),
                "endsAt": rfc3339(item.ends_at),
                "generatorURL": item.generator_url,
                "fingerprint": item.fingerprint,
            }
            for item in [*message.firing, *message.resolved][:MAX_ALERTS_SHOWN]
        ],
    }


def deliver(channel, payload: dict[str, Any]) -> None:
    post_json(channel.target, payload, channel.timeout)
