"""Channel formats, one module per kind: `render(message) -> payload` (pure) and `deliver(channel, payload)`.

The planner (monitor/alerts/grouping.py) builds a GroupMessage for one channel
and one group (rule, host), renders it with the channel kind's `render` and
stores the payload in the outbox; the sender (monitor/alerts/outbox.py) hands
the stored payload to the kind's `deliver`, which raises DeliveryError when the
receiver did not take it (so the row is retried). What is signed with a time
(DingTalk, Feishu) is signed at delivery: a retry an hour later must still verify.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

FIRING = "firing"
RESOLVED = "resolved"


class DeliveryError(Exception):
    """The receiver did not take the message (network error, HTTP status, robot errcode != 0)."""


def shut_at(sock: socket.socket, deadline: float) -> threading.Timer:
    """Shut `sock` at `deadline` (time.monotonic()), ending whatever read or write is under way then.

    A library's timeout bounds each socket operation, not a delivery: a receiver
    that answers a byte at a time held the sender past its outbox lease, and
    another sender delivered the same message again. Cancel the timer when done.
    """

    def cut() -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # closed already: the delivery ended in time

    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), cut)
    timer.daemon = True
    timer.start()
    return timer


@dataclass
class AlertItem:
    """One alert as a message shows it: firing, or resolved since the group's last message."""

    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    value: float | None = None
    generator_url: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": rfc3339(self.starts_at),
            "value": self.value,
            "generatorURL": self.generator_url,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], status: str, ends_at: datetime | None = None) -> AlertItem:
        return cls(
            fingerprint=data["fingerprint"],
            status=status,
            labels=dict(data.get("labels") or {}),
            annotations=dict(data.get("annotations") or {}),
            starts_at=parse_rfc3339(data["startsAt"]),
            ends_at=ends_at,
            value=data.get("value"),
            generator_url=data.get("generatorURL", ""),
        )


@dataclass
class GroupMessage:
    """What one channel is told about one group (rule, host) at one moment."""

    receiver: str
    rule_name: str
    host: str
    alerts: list[AlertItem] = field(default_factory=list)
    external_url: str = ""
    # When the message was planned, and the channel's repeat interval (Alertmanager forwarding dates endsAt by them).
    planned_at: datetime | None = None
    repeat_interval: float = 60.0

    @property
    def firing(self) -> list[AlertItem]:
        return [a for a in self.alerts if a.status == FIRING]

    @property
    def resolved(self) -> list[AlertItem]:
        return [a for a in self.alerts if a.status == RESOLVED]

    @property
    def status(self) -> str:
        """firing while any alert of the message fires (Alertmanager's rule)."""
        return FIRING if self.firing else RESOLVED

    @property
    def group_labels(self) -> dict[str, str]:
        return {"alertname": self.rule_name, "host": self.host}

    @property
    def group_key(self) -> str:
        """Alertmanager's textual group key: route matchers (none) and group labels."""
        labels = f'alertname="{_quote(self.rule_name)}", host="{_quote(self.host)}"'
        return "{}:{" + labels + "}"

    def common(self, attr: str) -> dict[str, str]:
        """Labels (or annotations) every alert of the message shares, with the same value."""
        dicts = [getattr(a, attr) for a in self.alerts]
        if not dicts:
            return {}
        first, *rest = dicts
        return {k: v for k, v in first.items() if all(d.get(k) == v for d in rest)}

    def title(self) -> str:
        """ "[FIRING:2] disk_nearly_full db-1" or "[RESOLVED] disk_nearly_full db-1" (Alertmanager's subject style)."""
        head = f"[FIRING:{len(self.firing)}]" if self.firing else "[RESOLVED]"
        return " ".join(part for part in (head, self.rule_name, self.host) if part)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def rfc3339(moment: datetime | None) -> str:
    """RFC 3339 in UTC with a Z, as Alertmanager writes it; None is Go's zero time (still firing)."""
    if moment is None:
        return "0001-01-01T00:00:00Z"
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def value_text(value: float | None) -> str:
    if value is None:
        return "no data"
    return f"{value:.4g}"


def when_text(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


# Alerts one message lists at most (webhook, email): a group of 22,000 made a 14 MB message, past the
# database's max_allowed_packet, so its outbox row could not be written and the group never spoke again.
MAX_ALERTS_SHOWN = 1000


def text_lines(message: GroupMessage, limit: int | None = None) -> list[str]:
    """The message as plain lines (email, Feishu text): each alert with value, summary, since; resolved ones too."""
    lines: list[str] = []
    shown = 0
    for heading, items in (("Firing", message.firing), ("Resolved", message.resolved)):
        if not items:
            continue
        lines.append(f"{heading} ({len(items)}):")
        for item in items:
            if limit is not None and shown >= limit:
                break
            shown += 1
            severity = item.labels.get("severity", "")
            name = item.labels.get("metric", "") or message.rule_name
            lines.append(f"- [{severity}] {item.annotations.get('summary') or name}")
            lines.append(f"  value: {value_text(item.value)}; since {when_text(item.starts_at)}")
            if item.status == RESOLVED:
                lines.append(f"  resolved at {when_text(item.ends_at)}")
            extra = {k: v for k, v in sorted(item.labels.items()) if k not in ("alertname", "host", "severity")}
            if extra:
                lines.append("  labels: " + ", ".join(f"{k}={v}" for k, v in extra.items()))
            if item.generator_url:
                lines.append(f"  {item.generator_url}")
        lines.append("")
    left = len(message.alerts) - shown
    if left > 0:
        lines.append(f"... and {left} more")
    description = message.common("annotations").get("description")
    if description:
        lines.append(description)
    return lines


def markdown_lines(message: GroupMessage, limit: int | None = None) -> list[str]:
    """The message as Markdown the robots render (DingTalk, WeCom)."""
    lines = [f"### {message.title()}", ""]
    shown = 0
    for heading, items in (("Firing", message.firing), ("Resolved", message.resolved)):
        if not items:
            continue
        lines.append(f"**{heading} ({len(items)})**")
        lines.append("")
        for item in items:
            if limit is not None and shown >= limit:
                break
            shown += 1
            severity = item.labels.get("severity", "")
            line = f"- **{severity}** {item.annotations.get('summary') or message.rule_name}"
            line += f" (value {value_text(item.value)}, since {when_text(item.starts_at)}"
            if item.status == RESOLVED:
                line += f", resolved {when_text(item.ends_at)}"
            lines.append(line + ")")
        lines.append("")
    left = len(message.alerts) - shown
    if left > 0:
        lines.append(f"... and {left} more")
    return lines


def truncate_bytes(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, never cutting a character in half."""
    data = text.encode()
    if len(data) <= limit:
        return text
    marker = "\n…".encode()
    return data[: limit - len(marker)].decode(errors="ignore") + marker.decode()


def kinds() -> dict[str, ModuleType]:
    """Channel kind -> its module (imported here so each module stays a plain leaf)."""
    from . import alertmanager, dingtalk, email, feishu, webhook, wecom

    return {
        "email": email,
        "webhook": webhook,
        "dingtalk": dingtalk,
        "wecom": wecom,
        "feishu": feishu,
        "alertmanager": alertmanager,
    }
