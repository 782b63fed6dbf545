"""The sender: deliver the outbox's due rows, at least once, in order within a group.

A row is claimed by one conditional UPDATE (status pending and due, or a
`sending` row whose lease ran out) that sets status=sending and
claimed_until=now+lease: of two senders only one changes the row (SQLite and
MySQL alike), and the lease is the claim's token when marking it sent.

Failures (network, HTTP status, a robot's errcode != 0) go back to pending with
exponential backoff (ALERTS_RETRY_BASE × 2^(attempt-1), capped at
ALERTS_RETRY_MAX); after ALERTS_MAX_ATTEMPTS the row is `failed`, its
last_error kept. A sender killed mid-delivery leaves a `sending` row whose
lease expires and which the next run delivers again.

Delivery guarantee: at least once. The one unavoidable duplicate is a receiver
that took the message just before the sender died, or before the UPDATE to
`sent` reached the database; that window is kept to the one statement that
follows the receiver's answer. A row is not delivered while an older row of
the same channel and group is still pending, so "resolved" never overtakes
its "firing".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, F, Min, OuterRef, Q
from django.utils import timezone

from .channels import DeliveryError, kinds
from .models import Notification

logger = logging.getLogger(__name__)

Status = Notification.Status


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: base × 2^(attempts-1), capped."""
    seconds = settings.ALERTS_RETRY_BASE * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.ALERTS_RETRY_MAX))


def lease_for(timeout: float) -> timedelta:
    """How long a claim holds: the delivery's own timeout plus a margin (connect, DNS, a slow SMTP dialogue)."""
    return timedelta(seconds=float(timeout) * 3 + settings.ALERTS_SEND_LEASE)


def _due(now: datetime) -> Q:
    return Q(status=Status.PENDING, next_attempt_at__lte=now) | Q(status=Status.SENDING, claimed_until__lt=now)


def claim(notification_id: int, now: datetime, lease: timedelta) -> datetime | None:
    """Take one row for delivery; the lease end (the claim's token) if this caller got it, else None."""
    until = now + lease
    taken = (
        Notification.objects.filter(_due(now), pk=notification_id)
        .order_by()
        .update(status=Status.SENDING, claimed_until=until, attempts=F("attempts") + 1)
    )
    return until if taken == 1 else None


def send_due(now: datetime | None = None, limit: int = 100) -> SendReport:
    """Deliver what is due now, oldest first; returns what happened.

    Only the oldest unfinished message of each group is taken (the rest wait their
    turn), chosen in the query: rows waiting behind a retrying one used to fill the
    `limit` window, keeping other channels' messages out for as long as a dead
    channel kept retrying. A channel whose delivery fails is not tried again in the
    same run: each further try would wait out its timeout before the others' turn.
    """
    now = now or timezone.now()
    report = SendReport()
    older = Notification.objects.filter(
        channel_id=OuterRef("channel_id"),
        group_key=OuterRef("group_key"),
        id__lt=OuterRef("id"),
        status__in=(Status.PENDING, Status.SENDING),
    )
    due = Notification.objects.filter(_due(now)).exclude(Exists(older)).select_related("channel").order_by("id")
    failing: set[int] = set()
    seen: set[int] = set()
    tried = 0
    while tried < limit:
        # Again after each pass: the next message of each group it served is now the oldest of its group.
        rows = list(due.exclude(id__in=seen).exclude(channel_id__in=failing)[: limit - tried])
        if not rows:
            break
        for row in rows:
            seen.add(row.id)
            if row.channel_id in failing:
                continue
            token = claim(row.id, now, lease_for(row.channel.timeout))
            if token is None:
                continue  # another sender has it
            tried += 1
            if not _deliver(row, token, now, report):
                failing.add(row.channel_id)
    return report


def _deliver(row: Notification, token: datetime, now: datetime, report: SendReport) -> bool:
    """Deliver one claimed row and record the outcome; whether it was delivered."""
    channel = row.channel
    attempts = row.attempts + 1
    try:
        if not channel.enabled:
            raise DeliveryError("channel disabled")
        kinds()[channel.kind].deliver(channel, row.payload)
    except Exception as exc:  # noqa: BLE001  any failure (even a bug in a format) must not leave the row claimed
        error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, DeliveryError) else str(exc)
        if not isinstance(exc, DeliveryError):
            logger.exception("delivery of notification %s raised", row.id)
        gave_up = attempts >= settings.ALERTS_MAX_ATTEMPTS or not channel.enabled
        Notification.objects.filter(pk=row.id, status=Status.SENDING, claimed_until=token).update(
            status=Status.FAILED if gave_up else Status.PENDING,
            next_attempt_at=now + backoff(attempts),
            claimed_until=None,
            last_error=error[:2000],
        )
        report.errors.append(error)
        if gave_up:
            report.failed += 1
            logger.error("notification %s to %s gave up after %d attempts: %s", row.id, channel, attempts, error)
        else:
            report.retried += 1
            logger.warning("notification %s to %s failed (attempt %d), retrying: %s", row.id, channel, attempts, error)
        return False
    # Right after the receiver's answer: the duplicate window is this one statement.
    marked = Notification.objects.filter(pk=row.id, status=Status.SENDING, claimed_until=token).update(
        status=Status.SENT, sent_at=timezone.now(), claimed_until=None, last_error=""
    )
    if not marked:
        logger.warning("notification %s was delivered after its lease ran out; another sender may repeat it", row.id)
    report.sent += 1
    return True


def prune_outbox(now: datetime | None = None, batch: int = 1000) -> int:
    """Delete sent and failed rows older than ALERTS_OUTBOX_KEEP_DAYS, one batch per call; returns the rows deleted.

    Filters on (status, next_attempt_at), the outbox's index: a row's last
    attempt time is at or before it was sent or given up.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ALERTS_OUTBOX_KEEP_DAYS)
    done = (Status.SENT, Status.FAILED)
    ids = list(
        Notification.objects.filter(status__in=done, next_attempt_at__lt=cutoff).values_list("id", flat=True)[:batch]
    )
    if not ids:
        return 0
    return Notification.objects.filter(id__in=ids, status__in=done).delete()[0]


def outbox_summary(now: datetime | None = None) -> dict:
    """The outbox at a glance, for the application status: pending, failed, age of the oldest waiting row.

    `pending` counts rows waiting or being sent; `failed` rows given up on
    (ALERTS_MAX_ATTEMPTS); `oldest_pending_age_seconds` is None when nothing waits.
    A growing age means a receiver is down or the send task does not run.
    """
    now = now or timezone.now()
    waiting = Notification.objects.filter(status__in=(Status.PENDING, Status.SENDING))
    oldest = waiting.aggregate(oldest=Min("created_at"))["oldest"]
    return {
        "pending": waiting.count(),
        "failed": Notification.objects.filter(status=Status.FAILED).count(),
        "oldest_pending_age_seconds": None if oldest is None else round(max((now - oldest).total_seconds(), 0.0), 1),
    }
