"""When each API token was last used: bookkeeping that must never fail the request it rides on.

A read-only database (a replica promoted late, maintenance) still serves reads;
the UPDATE of `last_used_at` is refused there, so it is tried at most once per
LAST_USED_RESOLUTION per token in each process, and its failure is logged once
(until an update succeeds again) instead of turning a read into a 500.
"""

import logging
import threading
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from monitor.deadline import describe
from monitor.models import ApiToken

logger = logging.getLogger(__name__)

# last_used_at is refreshed at most this often: not one UPDATE per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_lock = threading.Lock()
_tried: dict[str, datetime] = {}  # key hash -> when this process last tried to record a use
_failing = False  # the last attempt failed and was logged


def note_use(token: ApiToken, now: datetime | None = None) -> None:
    """Set `token.last_used_at` to now if it is older than LAST_USED_RESOLUTION; best-effort."""
    global _failing
    now = now or timezone.now()
    with _lock:
        seen = [t for t in (token.last_used_at, _tried.get(token.key_hash)) if t is not None]
        if seen and now - max(seen) <= LAST_USED_RESOLUTION:
            return
        _tried[token.key_hash] = now
    try:
        with transaction.atomic():  # a savepoint when inside a transaction: its failure stays contained
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    except DatabaseError as exc:
        with _lock:
            first, _failing = not _failing, True
        if first:
            logger.warning("token last_used_at not recorded (tried again once a minute per token): %s", describe(exc))
        return
    token.last_used_at = now
    _failing = False
