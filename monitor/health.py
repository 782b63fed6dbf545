"""Application status and health: what the web process reports about the whole deployment.

Application status reads what the workers reported in their latest
server-status cycle (one query) and asks them itself only when that report is
stale. Every call to the broker or the database runs against a hard deadline,
so both endpoints answer in bounded time whether the broker or the database is
up, refusing connections, frozen (accepting connections but never answering)
or has no worker listening.
"""

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from celery import Celery
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.utils import timezone

from .broker import broadcast_and_collect, broker_connection, broker_failure, queue_depths
from .database import probe
from .deadline import call_within, describe

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
    except Exception as exc:  # any broker failure is reported, never raised
        return {}, broker_failure(exc)
    return replies, {"state": "ok", "latency_ms": round((time.monotonic() - started) * 1000)}


def task_summary(replies: dict[str, dict], broker: dict, reported_at: datetime) -> dict:
    """The status keys about the task queue: real task counts summed over every worker that answered
    (the notes counted workers), the workers, the broker, and when that was found and how long ago."""
    counts = {
        f"{kind}_tasks": sum(int(r.get(kind, 0)) for r in replies.values() if isinstance(r, dict))
        for kind in TASK_KINDS
    }
    age = max(0.0, (timezone.now() - reported_at).total_seconds())
    return {
        **counts,
        "workers_online": len(replies),
        "workers": sorted(replies),
        "broker": broker,
        "reported_at": reported_at,
        "age_seconds": round(age, 3),
    }


def task_snapshot(app: Celery, timeout: float, max_age: float = 0.0, fresh: bool = False) -> dict:
    """The task queue as the workers last reported it, if within `max_age` seconds; else asked now, within `timeout`.

    Every server-status cycle's queue probe stores what the workers answered
    (models.QueueReport), so a typical request costs one query. The workers
    are asked directly (one broadcast, up to `timeout` s) when that report is
    older than `max_age`, missing (no worker ran a cycle: none running, or
    the broker down) or not wanted (`fresh`).
    """
    from .models import QueueReport

    report = None if fresh or max_age <= 0 else QueueReport.objects.newer_than(max_age)
    if report is not None:
        return task_summary(report.workers, report.broker, report.reported_at)
    replies, broker = ask_workers(app, timeout)
    return task_summary(replies, broker, timezone.now())


def alerts_snapshot() -> dict:
    """Alerts by state (one GROUP BY) and the notification outbox (pending, failed, oldest waiting)."""
    from .alerts.outbox import outbox_summary
    from .alerts.status import alert_counts

    return {"alerts": alert_counts(), "notifications": outbox_summary()}


def application_snapshot(app: Celery, timeout: float, max_age: float = 0.0, fresh: bool = False) -> dict:
    """The application status: one part per concern, each a dict of its own keys."""
    return {**user_snapshot(), **task_snapshot(app, timeout, max_age, fresh), **alerts_snapshot()}


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
    answer = probe.check(reuse_ok=False)  # within PROBE_BUDGET, shared with the requests of this process
    if answer.state == "down":
        return {"state": "down", "error": answer.error}
    if answer.state == "read_only":
        # Every write (agents' samples, the collectors' cycles) is refused: a failure, with its reason.
        return {"state": "read_only", "error": "the server is read-only (read_only=ON): writes are refused"}
    return {}


def _check_broker(app: Celery, timeout: float) -> dict:
    with broker_connection(app, timeout) as conn:
        return {"queues": queue_depths(conn, [app.conf.task_default_queue])}


def _check_workers(stale_after: float) -> dict:
    """`down` when no worker stored a collection cycle within `stale_after` s (hosts that push their samples
    do not count: they say nothing of the workers), `warn` when some known host went silent, else `ok`."""
    from django.db import connection

    from .models import CollectionCycle, Host

    now = timezone.now()
    cutoff = now - timedelta(seconds=stale_after)
    try:
        hosts = list(Host.objects.order_by("name").values_list("name", "last_seen"))
        workers = CollectionCycle.objects.worker_hosts(cutoff)
    finally:
        connection.close()
    stale = [
        {"name": name, "last_seen": seen, "seconds_since_last_seen": round((now - seen).total_seconds(), 3)}
        for name, seen in hosts
        if seen < cutoff
    ]
    result = {
        "workers_reporting": len(workers),
        "worker_hosts": workers,
        "hosts_reporting": len(hosts) - len(stale),
        "last_seen": max((seen for _, seen in hosts), default=None),
        "stale_hosts": stale,
    }
    if not workers:
        return {
            "state": "down",
            "error": f"no worker has stored a collection cycle within {stale_after:.0f}s",
            **result,
        }
    if stale:
        return {"state": "warn", "error": f"{len(stale)} host(s) silent for over {stale_after:.0f}s", **result}
    return result


def _check_alerts(listed: int) -> dict:
    """`warn` while a critical alert fires (the service is up: not `down`), with how many and the oldest few."""
    from django.db import connection

    from .alerts.status import firing_critical

    try:
        critical = firing_critical(listed)
    finally:
        connection.close()
    result = {"firing_critical": critical["count"], "critical": critical["alerts"]}
    if critical["count"]:
        return {"state": "warn", "error": f"{critical['count']} critical alert(s) firing", **result}
    return result


NOT_CHECKED = {"state": "unknown", "error": "not checked: the database does not answer"}


def health_snapshot(
    app: Celery,
    timeout: float,
    stale_after: float,
    authenticated: Callable[[], bool] | None = None,
    alerts_listed: int = 5,
) -> dict:
    """Database, broker, workers and critical alerts checked in parallel within `timeout` seconds.

    `status` is `fail` (some check failed: 503), `warn` (some host went
    stale, or a critical alert fires: the rest is fine) or `ok`. `authenticated`, run alongside within
    the same budget, says whether the caller may see the details (`checks`:
    errors, hosts, latencies, queue depths); anonymous callers, and everyone
    while the database does not answer (it is what verifies them), get only
    the names of the failed and warning checks.
    """
    known = probe.recent()
    calls: dict[str, Callable[[], object]] = {
        "database": lambda: _within(timeout, _check_database),
        "broker": lambda: _within(timeout, lambda: _check_broker(app, timeout)),
    }
    if known is None or not known.down:
        # Both need the database: not even started when it is known to be down.
        calls["workers"] = lambda: _within(timeout, lambda: _check_workers(stale_after))
        calls["alerts"] = lambda: _within(timeout, lambda: _check_alerts(alerts_listed))
        if authenticated is not None:
            calls["authenticated"] = lambda: call_within(timeout, authenticated)
    outcomes, threads = _start(calls)
    deadline = time.monotonic() + timeout + 0.2
    threads["database"].join(timeout + 0.2)
    late = {"state": "down", "error": f"no answer within {timeout:.1f}s"}
    database_down = outcomes.get("database", late)["state"] == "down"
    # With the database down, the checks that need it can only time out: not waited for.
    for name in ("broker",) if database_down else threads:
        threads[name].join(max(0.0, deadline - time.monotonic()))
    checks = {name: outcomes.get(name, late) for name in ("database", "broker", "workers", "alerts")}
    if database_down:
        checks["workers"] = dict(NOT_CHECKED)
        checks["alerts"] = dict(NOT_CHECKED)
    failed = [name for name, check in checks.items() if check["state"] not in ("ok", "warn", "unknown")]
    warnings = [name for name, check in checks.items() if check["state"] == "warn"]
    body: dict = {"status": "fail" if failed else "warn" if warnings else "ok", "failed": failed, "warnings": warnings}
    if not database_down and outcomes.get("authenticated") is True:
        body["checks"] = checks
    return body


def _start(calls: dict[str, Callable[[], object]]) -> tuple[dict[str, object], dict[str, threading.Thread]]:
    """Each call in a daemon thread of its own; its result (or exception) lands in the returned dict."""
    outcomes: dict[str, object] = {}

    def run(name: str, call: Callable[[], object]) -> None:
        try:
            outcomes[name] = call()
        except Exception as exc:
            outcomes[name] = exc

    threads = {name: threading.Thread(target=run, args=(name, call), daemon=True) for name, call in calls.items()}
    for thread in threads.values():
        thread.start()
    return outcomes, threads
