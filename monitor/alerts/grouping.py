"""The planner: which channel is told what about which group (rule, host), and when (Alertmanager's timing).

A reconciliation, run every ALERTS_NOTIFY_INTERVAL seconds: it reads the
alerts' current state and each channel's memory of a group (NotificationGroup:
what the last message showed and when), never the event log, so a missed run
loses nothing; the next one sees the same state.

Per enabled channel, the firing alerts that reach it (severity >= min_severity,
the channel's matchers, not silenced, not inhibited: monitor/alerts/matchers.py)
are grouped by (rule, host): by the rule's id, so a rule renamed while it
fires keeps its group, its memory and the name (groupKey, groupLabels) the
group was announced with until it is forgotten; its alerts' labels carry the
new name. For each group:

- new: it waits `group_wait` before its first message, so alerts that fire
  together (a disk filling on several mounts) arrive in one message;
- changed (an alert joined, or one resolved): the next message goes
  `group_interval` after the last one;
- unchanged and still firing: repeated every `repeat_interval`;
- every alert resolved: one resolved message (when `send_resolved`), then the
  group is forgotten; a group with nothing firing when its wait ends sends nothing.

Muted alerts (silenced, inhibited) send nothing, neither firing nor resolved, as
in Alertmanager: one announced and then muted is kept in the group's memory
(marked muted) and not called resolved; if it resolves while muted, or was muted
when last seen firing, it is forgotten without a word.

A metric that flaps every few seconds therefore yields one firing message and
at most one more per group_interval, not one per flap.

Each message is a Notification row (the outbox) written in the same
transaction as the group's new memory, with a unique dedup_key (channel, group,
the group's first sight, sequence, digest of the content): a crash between
the two cannot lose a message or queue it twice, and two planners racing on
one group write it once (the loser's transaction rolls back).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from .channels import FIRING, RESOLVED, AlertItem, GroupMessage, kinds
from .labels import alert_labels
from .matchers import Muting, labels_match
from .models import FIRING_STATES, Alert, Channel, Notification, NotificationGroup, Severity

logger = logging.getLogger(__name__)

SEVERITY_RANK = {Severity.WARNING: 1, Severity.CRITICAL: 2}
# The key, in a group's memory of an alert (NotificationGroup.last_alerts), of why it was muted when last seen firing.
MUTED = "muted"


@dataclass
class Firing:
    """A firing alert as one run sees it: the row, its labels, whether something mutes it."""

    alert: Alert
    labels: dict[str, str]
    muted: str = ""


def group_key(rule_id: int, host: str) -> str:
    """A group's key: its rule's id, not its name, so renaming a firing rule keeps its group (and its memory).

    "rule:" keeps these keys apart from the name keys of before (a rule name is a slug, without a colon).
    """
    return hashlib.sha1(f"rule:{rule_id}\0{host}".encode()).hexdigest()


def generator_url(host: str) -> str:
    """Where a person looks next: the host's dashboard page under ALERTS_EXTERNAL_URL."""
    base = settings.ALERTS_EXTERNAL_URL.rstrip("/")
    if not base:
        return ""
    try:
        path = reverse("dashboard:host", args=[host]) if host else reverse("dashboard:fleet")
    except NoReverseMatch:
        path = "/"
    return base + path


def firing_item(alert: Alert, labels: dict[str, str]) -> AlertItem:
    return AlertItem(
        fingerprint=alert.fingerprint,
        status=FIRING,
        labels=labels,
        annotations={"summary": alert.summary, "description": alert.rule.description},
        starts_at=alert.firing_since or alert.changed_at,
        value=alert.value,
        generator_url=generator_url(alert.host),
    )


def reaches(channel: Channel, firing: Firing) -> bool:
    """Whether this channel wants the alert at all (severity, matchers); muting is decided apart."""
    severity = firing.labels.get("severity", Severity.WARNING)
    if SEVERITY_RANK.get(severity, 0) < SEVERITY_RANK.get(channel.min_severity, 1):
        return False
    return labels_match(channel.matchers, firing.labels)


def plan(now: datetime | None = None) -> int:
    """One planning run over every enabled channel; returns the Notification rows written."""
    now = now or timezone.now()
    channels = list(Channel.objects.filter(enabled=True))
    if not channels:
        return 0
    alerts = list(Alert.objects.filter(state__in=FIRING_STATES).select_related("rule"))
    muting = Muting(now)
    firing = {a.fingerprint: Firing(a, alert_labels(a), muting.reason(a)) for a in alerts}
    written = 0
    for channel in channels:
        wanted: dict[str, list[Firing]] = defaultdict(list)
        names: dict[str, tuple[str, str]] = {}
        for item in firing.values():
            if item.muted or not reaches(channel, item):
                continue
            key = group_key(item.alert.rule_id, item.alert.host)
            wanted[key].append(item)
            names[key] = (item.alert.rule.name, item.alert.host)
        known = set(NotificationGroup.objects.filter(channel=channel).values_list("key", flat=True))
        for key in sorted(set(wanted) | known):
            try:
                written += _plan_group(channel, key, names.get(key), wanted.get(key, []), firing, muting, now)
            except IntegrityError:
                # Another planner wrote this group's message (or created it) first: its row stands.
                logger.info("group %s of channel %s planned concurrently; skipped", key, channel.name)
            except Exception:
                # One channel's broken format (a bug, an unknown kind) must not silence the others.
                logger.exception("planning group %s of channel %s failed", key, channel.name)
    return written


def _plan_group(
    channel: Channel,
    key: str,
    name: tuple[str, str] | None,
    current: list[Firing],
    firing: dict[str, Firing],
    muting: Muting,
    now: datetime,
) -> int:
    with transaction.atomic():
        group = NotificationGroup.objects.select_for_update().filter(channel=channel, key=key).first()
        if group is None:
            if not current:
                return 0
            rule_name, host = name
            group = NotificationGroup.objects.create(
                channel=channel, key=key, rule_name=rule_name, host=host, first_seen=now
            )
        now_firing = {f.alert.fingerprint: f for f in current}
        previous: dict[str, dict] = group.last_alerts or {}

        if group.last_sent_at is None:
            # The wait runs from the group's first sight even if its alerts flap meanwhile, and
            # whatever fires once it is over is sent. A group with nothing firing then is kept for
            # one group_interval (an alert flapping in step with the runs is still heard), then forgotten.
            waited = now - group.first_seen
            if waited < timedelta(seconds=channel.group_wait):
                return 0
            if not now_firing:
                if waited >= timedelta(seconds=channel.group_wait + channel.group_interval):
                    group.delete()
                return 0
            return _write(channel, group, now_firing, [], {}, now)

        # Alerts of the last message that still fire but are muted now (silenced, inhibited) are
        # neither shown nor called resolved; they stay remembered, marked muted, so the end of a silence
        # is no news. One that no longer fires (or no longer reaches this channel: a critical-only
        # channel's alert back to warning) is over as far as the channel knows: resolved, unless it is
        # muted now or was when last seen firing (inhibited by a host alert that cleared in the same
        # evaluation): Alertmanager mutes resolved notifications too, so it is forgotten without a word.
        gone = [fp for fp in previous if fp not in now_firing]
        kept = {
            fp: {**previous[fp], MUTED: firing[fp].muted}
            for fp in gone
            if fp in firing and firing[fp].muted and reaches(channel, firing[fp])
        }
        over = [fp for fp in gone if fp not in kept]
        muted_over = _muted_over(over, previous, firing, muting)
        resolved = [fp for fp in over if fp not in muted_over]
        # What the group remembers if it sends nothing now: what still fires (a mark cleared once it is
        # heard again), the muted, and the resolved ones until a message has shown them.
        memory = {fp: _unmarked(previous[fp]) for fp in previous if fp in now_firing}
        memory.update(kept)
        # New, or escalated/de-escalated (a warning that became critical is news, as in Alertmanager
        # where the severity label makes it another alert).
        joined = [fp for fp in now_firing if _severity(previous.get(fp)) != now_firing[fp].labels.get("severity")]
        if channel.kind == Channel.Kind.ALERTMANAGER:
            # Alertmanager tells alerts apart by all their labels: one relabelled (its rule renamed, its
            # labels edited) is another alert there, to be pushed now and its old label set ended below.
            joined += [
                fp
                for fp in now_firing
                if fp in previous and fp not in joined and previous[fp].get("labels") != now_firing[fp].labels
            ]
        if not now_firing and not resolved:
            if not kept:
                group.delete()  # everything it said fires no more, and ended muted: nothing to say
                return 0
            _remember(group, memory)
            return 0  # only muted alerts left: nothing to say, and still nothing new when the silence ends
        if resolved and not joined and now_firing and not channel.send_resolved:
            # Fewer alerts firing is no news to a channel that hears no resolutions (Alertmanager's rule):
            # forget them, so one that fires again is news then.
            _remember(group, memory)
            return 0
        since_last = now - group.last_sent_at
        wait = channel.group_interval if joined or resolved else channel.repeat_interval
        if since_last < timedelta(seconds=wait):
            _remember(group, {**memory, **{fp: previous[fp] for fp in resolved}})
            return 0
        resolved_items = _resolved_items(resolved, previous, now)
        if not now_firing:
            written = _write(channel, group, {}, resolved_items, {}, now) if channel.send_resolved else 0
            group.delete()
            return written
        shown = resolved_items if channel.send_resolved else []
        if channel.kind == Channel.Kind.ALERTMANAGER:
            # After a change of labels (severity, a rename) the old label set would stay active there
            # until its endsAt (4 x repeat_interval). End it now.
            changed = [fp for fp in joined if fp in previous]
            shown = [*shown, *(AlertItem.from_json(previous[fp], RESOLVED, ends_at=now) for fp in changed)]
        return _write(channel, group, now_firing, shown, kept, now)


def _muted_over(
    fingerprints: list[str], previous: dict[str, dict], firing: dict[str, Firing], muting: Muting
) -> set[str]:
    """Those of the alerts over for a channel that were muted when last seen firing, or are muted now."""
    marked = {fp for fp in fingerprints if previous[fp].get(MUTED)}
    muted = {fp for fp in fingerprints if fp in firing and firing[fp].muted}
    rest = [fp for fp in fingerprints if fp not in firing and fp not in marked]
    if rest:
        rows = Alert.objects.filter(fingerprint__in=rest).select_related("rule")
        muted.update(row.fingerprint for row in rows if muting.reason(row))
    return marked | muted


def _unmarked(shown: dict) -> dict:
    return {k: v for k, v in shown.items() if k != MUTED}


def _remember(group: NotificationGroup, last_alerts: dict[str, dict]) -> None:
    """Keep what the group knows when it sends nothing (marks, alerts forgotten quietly); no write if unchanged."""
    if last_alerts != group.last_alerts:
        group.last_alerts = last_alerts
        group.save(update_fields=["last_alerts"])


def _severity(shown: dict | None) -> str | None:
    return None if shown is None else (shown.get("labels") or {}).get("severity")


def _resolved_items(fingerprints: list[str], previous: dict[str, dict], now: datetime) -> list[AlertItem]:
    """The alerts that resolved since the last message, as that message showed them, ended when they cleared."""
    if not fingerprints:
        return []
    rows = {a.fingerprint: a for a in Alert.objects.filter(fingerprint__in=fingerprints)}
    items = []
    for fp in fingerprints:
        row = rows.get(fp)
        ended = row.changed_at if row is not None and row.changed_at <= now else now
        item = AlertItem.from_json(previous[fp], RESOLVED, ends_at=ended)
        if row is not None:
            item.value = row.value
        items.append(item)
    return items


def _write(
    channel: Channel,
    group: NotificationGroup,
    now_firing: dict[str, Firing],
    resolved: list[AlertItem],
    kept: dict[str, dict],
    now: datetime,
) -> int:
    """Queue one message and remember what it said, in the caller's transaction."""
    firing_items = [firing_item(f.alert, f.labels) for _, f in sorted(now_firing.items())]
    message = GroupMessage(
        receiver=channel.name,
        rule_name=group.rule_name,
        host=group.host,
        alerts=firing_items + resolved,
        external_url=settings.ALERTS_EXTERNAL_URL,
        planned_at=now,
        repeat_interval=channel.repeat_interval,
    )
    shown = sorted(f"{item.fingerprint}:{item.labels.get('severity', '')}" for item in firing_items)
    digest = hashlib.sha1(
        ("+".join(shown) + "|-" + "-".join(sorted(a.fingerprint for a in resolved))).encode()
    ).hexdigest()
    group.sequence += 1
    identity = f"{channel.pk}|{group.key}|{group.first_seen.isoformat()}|{group.sequence}|{digest}"
    Notification.objects.create(
        channel=channel,
        group_key=group.key,
        dedup_key=hashlib.sha256(identity.encode()).hexdigest(),
        payload=kinds()[channel.kind].render(message),
        next_attempt_at=now,
        created_at=now,
    )
    if group.pk is not None and not now_firing:
        return 1  # the caller forgets the group
    group.last_alerts = {**kept, **{item.fingerprint: item.to_json() for item in firing_items}}
    group.last_sent_at = now
    group.last_digest = digest
    group.save(update_fields=["last_alerts", "last_sent_at", "last_digest", "sequence"])
    return 1
