"""Who stays quiet: silences (label matchers, Alertmanager semantics) and host inhibition.

A silence matches an alert when every one of its matchers matches the alert's
labels (monitor/alerts/labels.py `alert_labels`): `value` equal to the label,
or with `regex` a full match of the label (an absent label counts as "", as in
Alertmanager, so `{"name": "mount", "value": ".*", "regex": true}` matches alerts
without a mount too). A silence is active while starts_at <= now < ends_at.

Inhibition: while a rule with `inhibits_host` (the host-not-reporting rule) fires
for a host, every other alert of that host is muted; the inhibiting alerts
themselves still speak, so an operator hears "db-1 is down" once instead of
"db-1 is down" plus one message per metric that stopped with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache

import re2
from django.utils import timezone

from .labels import alert_labels
from .models import FIRING_STATES, Alert, Silence

SILENCED = "silenced"
INHIBITED = "inhibited"


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is reported by whoever compiles it, not on stderr


def compile_matcher(pattern: str):
    """A matcher's pattern as RE2 (what Alertmanager uses): matching takes time linear in the label's
    length, where Python's `re` can take exponential time (`(a|aa)+b` against a 42-character host held
    the worker, and beat after it, for a minute). Raises re2.error for what RE2 refuses (backreferences,
    lookaround)."""
    return re2.compile(pattern, options=_RE2_OPTIONS)


@lru_cache(maxsize=512)
def _compiled(pattern: str):
    try:
        return compile_matcher(pattern)
    except re2.error:
        return None  # a broken pattern matches nothing, rather than muting everything or raising


def matcher_matches(matcher: Mapping, labels: Mapping[str, str]) -> bool:
    """One {name, value, regex} matcher against an alert's labels; anything else (a row written around the
    API's checks) matches nothing, rather than stopping every notification with an error."""
    if not isinstance(matcher, Mapping):
        return False
    value = str(labels.get(str(matcher.get("name", "")), ""))
    wanted = str(matcher.get("value", ""))
    if matcher.get("regex"):
        compiled = _compiled(wanted)
        return compiled is not None and compiled.fullmatch(value) is not None
    return value == wanted


def labels_match(matchers: Sequence[Mapping] | None, labels: Mapping[str, str]) -> bool:
    """Every matcher matches (an empty list matches everything: a channel without matchers takes all)."""
    return all(matcher_matches(m, labels) for m in matchers or ())


def active_silences(now: datetime | None = None) -> list[Silence]:
    """Silences in force at `now` (starts_at <= now < ends_at)."""
    now = now or timezone.now()
    return list(Silence.objects.filter(starts_at__lte=now, ends_at__gt=now))


def is_silenced(labels: Mapping[str, str], silences: Iterable[Silence]) -> bool:
    """Whether one of `silences` (already known to be active) covers an alert with these labels.

    A silence without matchers silences nothing: Alertmanager refuses one, and a
    forgotten empty list must not mute the whole fleet.
    """
    return any(s.matchers and labels_match(s.matchers, labels) for s in silences)


def inhibiting_hosts() -> set[str]:
    """Hosts for which a rule with inhibits_host is firing now."""
    return set(
        Alert.objects.filter(state__in=FIRING_STATES, rule__inhibits_host=True, rule__enabled=True).values_list(
            "host", flat=True
        )
    )


class Muting:
    """The silences in force and the inhibiting hosts at one moment, read once: what mutes an alert then.

    The planner asks about firing alerts and about alerts that resolved since a channel's last message
    (a resolution that comes while muted is not news either), so both are answered from one read.
    """

    def __init__(self, now: datetime | None = None) -> None:
        self.silences = active_silences(now)
        self.inhibited_hosts = inhibiting_hosts()

    def reason(self, alert: Alert) -> str:
        """ "silenced", "inhibited" or "": silence wins, it is the one an operator chose. Needs the rule loaded."""
        if is_silenced(alert_labels(alert), self.silences):
            return SILENCED
        if alert.host in self.inhibited_hosts and not alert.rule.inhibits_host:
            return INHIBITED
        return ""


def muted_alerts(alerts: Iterable[Alert], now: datetime | None = None) -> dict[str, str]:
    """The alerts among `alerts` that send nothing, by fingerprint: "silenced" or "inhibited".

    Each alert needs its rule loaded (select_related("rule") saves a query per alert).
    """
    muting = Muting(now)
    return {alert.fingerprint: reason for alert in alerts if (reason := muting.reason(alert))}
