"""Celery tasks of the notification pipeline: only scheduling and retries; the logic is in grouping.py and outbox.py.

Both run from beat every ALERTS_NOTIFY_INTERVAL seconds (monitor/collection/schedule.py),
and plan also asks for a send as soon as it has queued something. Their state is in
the database, so with the broker down nothing is lost: the next run that gets
through plans and sends what is due.
"""

import logging

from celery import shared_task

from .grouping import plan
from .outbox import prune_outbox, send_due

logger = logging.getLogger(__name__)


# Acknowledged on start: a run cut short is redone by the next beat tick, and a
# redelivered send would only find its rows claimed.
@shared_task(ignore_result=True, acks_late=False)
def plan_notifications() -> int:
    """Plan every channel's messages (Notification rows); returns the rows written."""
    written = plan()
    if written:
        try:
            send_notifications.apply_async(retry=False)
        except Exception as exc:  # noqa: BLE001  the broker is down: beat's send entry delivers them
            logger.warning("could not ask for a send now (%s); the next scheduled send delivers", exc)
    return written


@shared_task(ignore_result=True, acks_late=False)
def send_notifications() -> int:
    """Deliver the outbox's due rows, then drop a batch of old sent/failed ones; returns the messages sent."""
    sent = send_due().sent
    prune_outbox()
    return sent
