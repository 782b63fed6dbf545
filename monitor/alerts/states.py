"""The state machine of one alert: pure, so every transition is tested without a database.

    ok --threshold crossed--> pending --for_seconds--> warning | critical --cleared--> ok
                                  (for_seconds 0: straight to firing)
    firing: escalates and de-escalates with hysteresis (critical is left only past
    critical_clear, then it is warning while still past warning_clear);
    keep_firing_for: a cleared alert keeps firing that long (cleared_since).
    no data in the window: the rule's policy, ok / keep / nodata.

Thresholds: "above" enters at value >= threshold and leaves at value < clear;
"below" enters at value <= threshold and leaves at value > clear. A clear
value defaults to its threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from .models import AlertRule, AlertState, Severity

OK, PENDING, WARNING, CRITICAL, NODATA = (
    AlertState.OK.value,
    AlertState.PENDING.value,
    AlertState.WARNING.value,
    AlertState.CRITICAL.value,
    AlertState.NODATA.value,
)
FIRING = (WARNING, CRITICAL, NODATA)


@dataclass(frozen=True, slots=True)
class Status:
    """What the machine needs of an Alert row, and what it changes."""

    state: str = OK
    pending_severity: str = ""
    pending_since: datetime | None = None
    firing_since: datetime | None = None
    cleared_since: datetime | None = None
    value: float | None = None


def _past(rule: AlertRule, threshold: float | None, value: float) -> bool:
    if threshold is None:
        return False
    return value <= threshold if rule.direction == AlertRule.Direction.BELOW else value >= threshold


def _cleared(rule: AlertRule, clear: float | None, threshold: float | None, value: float) -> bool:
    limit = threshold if clear is None else clear
    if limit is None:
        return True
    return value > limit if rule.direction == AlertRule.Direction.BELOW else value < limit


def level(rule: AlertRule, value: float, held: str) -> str:
    """The severity the value calls for ('' for none), given the severity the alert holds now."""
    if held == CRITICAL and rule.critical is not None:
        if not _cleared(rule, rule.critical_clear, rule.critical, value):
            return CRITICAL
        # leaving critical: still warning unless past warning's own clear value too
        if rule.warning is not None and not _cleared(rule, rule.warning_clear, rule.warning, value):
            return WARNING
        return ""
    if _past(rule, rule.critical, value):
        return CRITICAL
    if held == WARNING and rule.warning is not None:
        return "" if _cleared(rule, rule.warning_clear, rule.warning, value) else WARNING
    return WARNING if _past(rule, rule.warning, value) else ""


def _held(status: Status) -> str:
    if status.state in (WARNING, CRITICAL):
        return status.state
    return ""


def last_severity(status: Status) -> str:
    """The severity an alert had (or headed for): kept on the ok row, so a resolved alert's labels stay the same."""
    if status.state in (CRITICAL, NODATA):
        return Severity.CRITICAL.value
    if status.state == WARNING:
        return Severity.WARNING.value
    return status.pending_severity


def resolved(status: Status, value: float | None = None) -> Status:
    """Back to ok, remembering the severity it had and its last value."""
    return Status(OK, pending_severity=last_severity(status), value=value if value is not None else status.value)


def _clear(rule: AlertRule, status: Status, now: datetime, value: float | None) -> Status:
    """Nothing calls for an alert: ok at once, or after keep_firing_for when firing."""
    if status.state in FIRING and rule.keep_firing_for:
        since = status.cleared_since or now
        if now - since < timedelta(seconds=rule.keep_firing_for):
            return replace(status, cleared_since=since, value=value if value is not None else status.value)
    return resolved(status, value)


def step(rule: AlertRule, status: Status, value: float | None, now: datetime) -> Status:
    """The alert's next status given the lookup's value (None: no data in the window)."""
    if value is None:
        if rule.nodata == AlertRule.NoData.KEEP:
            if status.state == PENDING:
                # A pending alert needs its condition `for` seconds without a break: a gap in the data
                # is a break (Prometheus drops a pending alert whose series is absent), or one sample
                # past the line, an hour of nothing and one more would fire at once.
                return Status(OK, pending_severity=status.pending_severity, value=status.value)
            return status
        if rule.nodata == AlertRule.NoData.ALERT:
            if status.state == NODATA:
                return replace(status, cleared_since=None)
            return Status(NODATA, firing_since=now, value=None)
        return _clear(rule, status, now, None)
    target = level(rule, value, _held(status))
    if not target:
        if status.state in (OK, PENDING):
            return Status(OK, pending_severity=status.pending_severity, value=value)
        return _clear(rule, status, now, value)
    if status.state in FIRING:
        # escalate, de-escalate, or come back from nodata without waiting again
        since = status.firing_since if status.state != NODATA else now
        return Status(target, firing_since=since or now, value=value)
    pending_since = status.pending_since if status.state == PENDING else now
    if now - pending_since >= timedelta(seconds=rule.for_seconds):
        return Status(target, firing_since=now, value=value)
    severity = Severity.CRITICAL.value if target == CRITICAL else Severity.WARNING.value
    return Status(PENDING, pending_severity=severity, pending_since=pending_since, value=value)


def entry_check(rule: AlertRule):
    """A fast test for an alert that is ok: True when `value` leaves it ok (what step() would say, cheaper).

    Most (rule, series) pairs are ok and stay ok; this spares them the state
    machine. None (no data) stays ok unless the rule alerts on no data.
    """
    nodata_ok = rule.nodata != AlertRule.NoData.ALERT
    limits = [t for t in (rule.warning, rule.critical) if t is not None]
    if not limits:
        return lambda value: value is not None or nodata_ok
    if rule.direction == AlertRule.Direction.BELOW:
        highest = max(limits)
        return lambda value: nodata_ok if value is None else value > highest
    lowest = min(limits)
    return lambda value: nodata_ok if value is None else value < lowest
