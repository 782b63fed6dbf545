"""Alerting that outlives the workers it watches: beat runs it while no worker reports.

Rules are evaluated and notifications planned and sent by Celery tasks, which a
worker runs. With no worker at all nothing would be evaluated, so the alert for
that very outage (`host_not_reporting`) would fire only once a worker came back.
Beat is its own process: before it sends one of these tasks it checks whether any
worker stored a collection cycle within HOST_STALE_AFTER, and when none did it
runs the task itself, in a thread of its own (one run of each task at a time).
It also records `celery.workers_online 0` then (no host: beat is not a worker),
which the shipped rule `celery_no_worker` watches.

The tasks are safe to run beside a worker that comes back meanwhile: evaluation
takes a lease and delivery claims its rows.
"""

import importlib
import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connections
from django.utils import timezone

from monitor.collection.schedule import EVALUATE_ALERTS, PLAN_NOTIFICATIONS, SEND_NOTIFICATIONS

logger = logging.getLogger(__name__)

WATCHED = frozenset({EVALUATE_ALERTS, PLAN_NOTIFICATIONS, SEND_NOTIFICATIONS})

_running: set[str] = set()
_lock = threading.Lock()
_alone = False


def note(alone: bool) -> None:
    """Log when beat starts or stops standing in for the workers (once each, not every tick)."""
    global _alone
    if alone and not _alone:
        logger.warning(
            "no worker stored a cycle within %ss: beat evaluates alerts and sends notifications itself",
            settings.HOST_STALE_AFTER,
        )
    elif _alone and not alone:
        logger.info("a worker reports again: alert tasks go to the workers")
    _alone = alone


def workers_reporting() -> bool:
    """Whether any worker stored a collection cycle within HOST_STALE_AFTER seconds."""
    from monitor.models import CollectionCycle

    cutoff = timezone.now() - timedelta(seconds=settings.HOST_STALE_AFTER)
    return CollectionCycle.objects.stored_since(cutoff).exists()  # beat asks before each watched entry: one row


def run_here(name: str, run: Callable[[], object]) -> bool:
    """Start `run` in a thread unless a run of `name` is still going; returns whether it started."""
    with _lock:
        if name in _running:
            return False
        _running.add(name)

    def body() -> None:
        try:
            run()
        except Exception:
            logger.exception("beat's own run of %s failed", name)
        finally:
            connections.close_all()
            with _lock:
                _running.discard(name)

    threading.Thread(target=body, name=f"watchdog {name}", daemon=True).start()
    return True


def task_body(name: str) -> Callable[[], object]:
    """The function a task named `name` runs (its module imported: beat may not have loaded it)."""
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute).run


def record_no_worker() -> None:
    """`celery.workers_online 0`, seen by beat: no worker is there to count itself."""
    from monitor.storage.inserts import Point, store
    from monitor.storage.instants import to_us

    store([Point("celery.workers_online", "", to_us(timezone.now()), 0.0, "workers answering remote control")])
