"""Application status and health: what the web process reports about the whole deployment.

Every call to the broker or the database runs against a hard deadline, so both
endpoints answer in bounded time whether the broker is up, refusing
connections, frozen (accepting connections but never answering) or has no
worker listening.
"""

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from celery import Celery
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.utils import timezone
from redis.exceptions import TimeoutError as RedisTimeout

from .broker import broadcast_and_collect, broker_connection, queue_depths
from .deadline import DeadlineExceeded, call_within, describe

ACTIVE_USER_WINDOW = timedelta(minutes=30)
TASK_KINDS = ("active", "scheduled", "reserved")


def user_snapshot() -> dict:
    now = timezone.now()
    users = get_user_model().objects
    return {
        "active_sessions": Session.objects.filter(expire_date__gte=now).count(),
        "active_users": users.filter(last_login__gte=now - ACTIVE_USER_WINDOW).count(),
        "total_users": users.count(),
    }


def ask_workers(app: Celery, timeout: float, expected: int = 0) -> tuple[dict[str, dict], dict]:
    """Broadcast `task_counts` (monitor/collection/worker_control.py) once and collect the replies.

    Runs in a daemon thread whose sockets time out within the budget; the
    caller waits at most `timeout` seconds. With `expected` > 0 it stops as soon
    as that many workers have answered instead of waiting out the window.
    Returns (replies by worker, broker).
    """

    def ask() -> dict[str, dict]:
        conn = broker_connection(app, timeout)
        try:
            return broadcast_and_collect(app, conn, "task_counts", wait=timeout * 0.6, expected=expected)
        finally:
            # Closing a Redis connection can take a few hundred ms: not on the caller's clock.
            threading.Thread(target=conn.release, daemon=True).start()

    started = time.monotonic()
    try:
        replies = call_within(timeout, ask)
    except (DeadlineExceeded, TimeoutError, RedisTimeout) as exc:
        # A frozen broker shows up as our deadline or as a socket read timeout.
        return {}, {"state": "timeout", "error": describe(exc)}
    except Exception as exc:  # any broker failure is reported, never raised
        return {}, {"state": "unreachable", "error": describe(exc)}
    return replies, {"state": "ok", "latency_ms": round((time.monotonic() - started) * 1000)}


def task_snapshot(app: Celery, timeout: float) -> dict:
    """Real task counts summed over every worker that answered (the notes counted workers)."""
    replies, broker = ask_workers(app, timeout)
    counts = {
        f"{kind}_tasks": sum(int(r.get(kind, 0)) for r in replies.values() if isinstance(r, dict))
        for kind in TASK_KINDS
    }
    return {**counts, "workers_online": len(replies), "workers": sorted(replies), "broker": broker}


def application_snapshot(app: Celery, timeout: float) -> dict:
    return {**user_snapshot(), **task_snapshot(app, timeout)}


def _within(budget: float, check: Callable[[], dict]) -> dict:
    """A health check's state: its own dict, `down` with the error, or `down` on timeout."""
    started = time.monotonic()
    try:
        result = {"state": "ok", **(call_within(budget, check) or {})}
    except Exception as exc:  # a failed dependency is a state, never a 500
        result = {"state": "down", "error": describe(exc)}
    result["latency_ms"] = round((time.monotonic() - started) * 1000)
    return result


def _check_database() -> dict:
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()  # this thread's own connection: never left open
    return {}


def _check_broker(app: Celery, timeout: float) -> dict:
    with broker_connection(app, timeout) as conn:
        return {"queues": queue_depths(conn, [app.conf.task_default_queue])}


def _check_workers(stale_after: float) -> dict:
    from django.db import connection
    from django.db.models import Max

    from .models import Host

    try:
        last = Host.objects.aggregate(last=Max("last_seen"))["last"]
        fresh = Host.objects.filter(last_seen__gte=timezone.now() - timedelta(seconds=stale_after)).count()
    finally:
        connection.close()
    if last is None or fresh == 0:
        return {"state": "down", "error": f"no worker has reported within {stale_after:.0f}s", "last_seen": last}
    return {"hosts_reporting": fresh, "last_seen": last}


def health_snapshot(app: Celery, timeout: float, stale_after: float) -> dict:
    """Database, broker and workers, checked in parallel within `timeout` seconds."""
    checks = {
        "database": lambda: _check_database(),
        "broker": lambda: _check_broker(app, timeout),
        "workers": lambda: _check_workers(stale_after),
    }
    results: dict[str, dict] = {}
    threads = []
    for name, check in checks.items():
        thread = threading.Thread(target=lambda n=name, c=check: results.__setitem__(n, _within(timeout, c)))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout + 0.2)
    for name in checks:
        results.setdefault(name, {"state": "down", "error": f"no answer within {timeout:.1f}s"})
    failed = [name for name, result in results.items() if result["state"] != "ok"]
    return {"status": "fail" if failed else "ok", "failed": failed, "checks": results}
