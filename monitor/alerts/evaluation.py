"""Evaluate every enabled rule against the catalog and the rollups; write what changed, with its events.

One run: read the rules, the catalog rows their metrics may select, the
latest values and the minute rollups of those series (a few batched
statements: lookups.py) and the alert rows; step each (rule, series)
through the state machine (states.py) in memory; then write, in one
transaction, the new alerts, the changed ones with one AlertEvent per state
change, and the new value of the alerts that are not ok (a row whose state
and value did not move is not written: `evaluated_at` is the last write).

An Alert row is created the first time a series leaves ok; a series that
never did costs no row and no write. Alerts whose series left the catalog,
or no longer match their rule (edited or disabled), resolve.

One evaluator at a time (lease.py): a run that finds the lease taken skips.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from monitor.storage.instants import to_us

from . import lookups
from .labels import alert_labels, base_labels, render_summary
from .lease import evaluator_lease
from .models import Alert, AlertEvent, AlertRule
from .selection import CatalogSeries, Selector, load_catalog
from .states import OK, Status, entry_check, resolved, step

logger = logging.getLogger(__name__)

US = 1_000_000
# State changes logged one per line per run; a fleet-wide outage logs a count beyond.
LOGGED_TRANSITIONS = 20
# An alert's status: its state, what it is on the way to and since when, the value it saw.
_STATUS = ("state", "pending_severity", "pending_since", "firing_since", "cleared_since", "value")
# The fields of an Alert the evaluator reads back each run (not labels or summary: rewritten when written).
_READ = ("id", "fingerprint", "rule_id", "series_id", *_STATUS, "changed_at", "host", "series_name", "labels")
# What a change of state writes (with changed_at and evaluated_at).
_CHANGED = (*_STATUS, "summary", "labels")
_REFRESHED = (
    "series",
    "pending_severity",
    "pending_since",
    "cleared_since",
    "value",
    "summary",
    "labels",
    "evaluated_at",
)


class Conflict(Exception):
    """An alert changed under this run (another evaluator outlived its lease): the run is rolled back."""


@dataclass
class EvaluationReport:
    """What one run did, for the task's log and the bench."""

    at: datetime
    skipped: bool = False
    conflict: bool = False
    rules: int = 0
    series: int = 0
    pairs: int = 0
    created: int = 0
    changed: int = 0
    refreshed: int = 0
    events: int = 0
    seconds: float = 0.0
    transitions: list[tuple[str, str, str, str]] = field(default_factory=list)  # (rule, host, from, to)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


def fingerprint(rule_id: int, series_key: str) -> str:
    return hashlib.sha1(f"{rule_id}\x00{series_key}".encode()).hexdigest()


def lease_seconds() -> float:
    """How long a run may hold the lease: several intervals, at least a minute (a run takes well under a second)."""
    return max(60.0, 4.0 * settings.ALERTS_EVALUATION_INTERVAL)


def evaluate(now: datetime | None = None) -> EvaluationReport:
    """Evaluate every enabled rule once at `now` (default: the clock); skips if another evaluator runs."""
    now = now or timezone.now()
    started = time.monotonic()
    with evaluator_lease(lease_seconds()) as held:
        if not held:
            return EvaluationReport(now, skipped=True)
        report = EvaluationReport(now)
        try:
            _run(now, report)
        except Conflict:
            report = EvaluationReport(now, conflict=True)
    report.seconds = round(time.monotonic() - started, 6)
    return report


@dataclass(slots=True)
class _Row:
    """An Alert row as read, and what the run makes of it."""

    id: int | None
    rule: AlertRule
    series: CatalogSeries | None
    host: str
    series_name: str
    labels: dict
    before: Status
    changed_at: datetime | None
    after: Status | None = None


def _value(rule: AlertRule, series_id: int, since_us: int, latest: dict, windows: dict) -> float | None:
    newest = latest.get(series_id)
    if newest is None or newest[1] < since_us:
        return None  # no data in the window
    if rule.lookup == AlertRule.Lookup.LAST:
        return newest[0]
    window = windows.get(rule.window, {}).get(series_id)
    return lookups.window_value(window, rule.lookup) if window is not None else newest[0]


def _run(now: datetime, report: EvaluationReport) -> None:
    rules = {rule.id: rule for rule in AlertRule.objects.all()}
    enabled = [rule for rule in rules.values() if rule.enabled]
    catalog = load_catalog(enabled)
    selector = Selector(catalog)
    watched = {rule.id: selector.select(rule) for rule in enabled}
    report.rules, report.series = len(enabled), len(catalog)

    readings = lookups.read(
        (s.id for rows in watched.values() for s in rows),
        {rule.window for rule in enabled if rule.lookup != AlertRule.Lookup.LAST},
        int(now.timestamp()),
    )
    latest, windows = readings.latest, readings.windows

    existing: dict[tuple[int, int | None], _Row] = {}
    by_fingerprint: dict[str, _Row] = {}
    leftovers: list[_Row] = []
    for values in Alert.objects.filter(rule_id__in=list(rules)).values_list(*_READ):
        (
            alert_id,
            print_,
            rule_id,
            series_id,
            state,
            severity,
            pending,
            firing,
            cleared,
            value,
            changed,
            host,
            name,
            labels,
        ) = values
        row = _Row(
            alert_id,
            rules[rule_id],
            None,
            host,
            name,
            labels or {},
            Status(state, severity, pending, firing, cleared, value),
            changed,
        )
        existing[(rule_id, series_id)] = row
        by_fingerprint[print_] = row
        leftovers.append(row)

    now_us = to_us(now)
    written: list[_Row] = []
    seen: set[int] = set()
    fresh = Status()
    for rule in enabled:
        since_us = now_us - rule.window * US
        entering = entry_check(rule)
        report.pairs += len(watched[rule.id])
        for series in watched[rule.id]:
            value = _value(rule, series.id, since_us, latest, windows)
            row = existing.get((rule.id, series.id))
            if row is None and entering(value):
                continue  # no row and nothing to leave ok for: the common case, kept cheap
            if row is None:
                # The alert of a series deleted and stored again (same host and name, a new id): adopted.
                row = by_fingerprint.get(fingerprint(rule.id, series.key))
            before = row.before if row is not None else fresh
            after = step(rule, before, value, now)
            if row is None:
                if after.state == OK:
                    continue  # never left ok: no row
                row = _Row(None, rule, series, series.host, series.name, {}, before, None)
            else:
                seen.add(row.id)
                if after.state == OK and before.state == OK:
                    continue  # stays ok: nothing to write (an ok row's value is the one it recovered with)
            labels = base_labels(rule, series.labels, series.host, series.metric)
            if after == before and labels == row.labels:
                continue  # same state, same value: nothing to write
            row.series, row.labels, row.after = series, labels, after
            written.append(row)
    for row in leftovers:
        if row.id not in seen and row.before.state != OK:
            # its series left the catalog, or the rule no longer selects it (edited, disabled)
            row.after = resolved(row.before)
            written.append(row)
    if written:
        _write(written, now, report)


def _alert(row: _Row, status: Status, now: datetime) -> Alert:
    alert = Alert(
        id=row.id,
        rule=row.rule,
        series_id=row.series.id if row.series else None,
        host=row.host,
        series_name=row.series_name,
        labels=row.labels,
        state=status.state,
        pending_severity=status.pending_severity,
        value=status.value,
        pending_since=status.pending_since,
        firing_since=status.firing_since,
        cleared_since=status.cleared_since,
        evaluated_at=now,
    )
    if row.series is not None and row.id is None:
        alert.fingerprint = fingerprint(row.rule.id, row.series.key)
    alert.summary = render_summary(row.rule, alert)
    return alert


def _event(alert: Alert, row: _Row, now: datetime) -> AlertEvent:
    return AlertEvent(
        alert_id=alert.id,
        rule_name=row.rule.name,
        host=alert.host,
        series_name=alert.series_name,
        from_state=row.before.state,
        to_state=alert.state,
        value=alert.value,
        summary=alert.summary,
        labels=alert_labels(alert),
        at=now,
    )


def _write(rows: list[_Row], now: datetime, report: EvaluationReport) -> None:
    """New alerts, state changes (each with its event) and refreshed values, all or nothing."""
    new = [(row, _alert(row, row.after, now)) for row in rows if row.id is None]
    changed = [
        (row, _alert(row, row.after, now)) for row in rows if row.id is not None and row.after.state != row.before.state
    ]
    refreshed = [
        _alert(row, row.after, now) for row in rows if row.id is not None and row.after.state == row.before.state
    ]
    events: list[AlertEvent] = []
    with transaction.atomic():
        for _, alert in new:
            alert.changed_at = now
        Alert.objects.bulk_create([alert for _, alert in new], batch_size=500)
        if new and new[0][1].id is None:  # the backend did not return the ids (MySQL)
            ids: dict[str, int] = {}
            prints = [alert.fingerprint for _, alert in new]
            for start in range(0, len(prints), 2000):
                ids.update(
                    Alert.objects.filter(fingerprint__in=prints[start : start + 2000]).values_list("fingerprint", "id")
                )
            for _, alert in new:
                alert.id = ids[alert.fingerprint]
        events += [_event(alert, row, now) for row, alert in new]
        for row, alert in changed:
            kept = {"series_id": alert.series_id} if row.series is not None else {}
            updated = Alert.objects.filter(id=row.id, state=row.before.state, changed_at=row.changed_at).update(
                **kept, **{name: getattr(alert, name) for name in _CHANGED}, changed_at=now, evaluated_at=now
            )
            if updated != 1:
                raise Conflict(row.id)
            events.append(_event(alert, row, now))
        if refreshed:
            Alert.objects.bulk_update(refreshed, _REFRESHED, batch_size=500)
        AlertEvent.objects.bulk_create(events, batch_size=500)
    report.created, report.changed, report.refreshed, report.events = (
        len(new),
        len(changed),
        len(refreshed),
        len(events),
    )
    report.transitions = [(e.rule_name, e.host, e.from_state, e.to_state) for e in events]
    for name, host, before, after in report.transitions[:LOGGED_TRANSITIONS]:
        logger.info("alert %s on %s: %s -> %s", name, host or "-", before, after)
    if len(events) > LOGGED_TRANSITIONS:
        logger.info("... and %d more alert state changes", len(events) - LOGGED_TRANSITIONS)
