"""The application-status snapshot: sessions, users, broker, workers and tasks.

Every call to the broker runs against a hard deadline, so the status endpoint
answers in bounded time whether the broker is up, refusing connections, frozen
(accepting connections but never answering) or has no worker listening.
"""

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from celery import Celery
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.utils import timezone
from kombu import Connection
from kombu.pidbox import Mailbox
from kombu.utils.uuid import uuid
from redis.exceptions import TimeoutError as RedisTimeout

ACTIVE_USER_WINDOW = timedelta(minutes=30)
TASK_KINDS = ("active", "scheduled", "reserved")
# Replies are polled for every REPLY_POLL_SECONDS while some are still awaited
# (most workers answer within tens of ms), then, when the whole window is
# listened to, every REPLY_POLL_SLOW_SECONDS: an empty poll costs a round trip
# per priority level, and a window of 1.2 s polled at 20 ms was 60 of them.
REPLY_POLL_SECONDS = 0.02
REPLY_POLL_SLOW_SECONDS = 0.1
REPLY_FAST_WINDOW_SECONDS = 0.1
T = TypeVar("T")


class DeadlineExceeded(Exception):
    """The call did not finish within its time budget."""


def call_within(timeout: float, call: Callable[[], T]) -> T:
    """Run `call` in a daemon thread and wait at most `timeout` seconds for it.

    Returns its result or raises its exception; raises DeadlineExceeded if it
    is still running. A call left running ends on its own socket timeouts.
    """
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="deadline-call", daemon=True)
    thread.start()
    thread.join(timeout)
    if "error" in outcome:
        raise outcome["error"]
    if "result" not in outcome:
        raise DeadlineExceeded(f"no answer within {timeout:.1f}s")
    return outcome["result"]


def describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def broker_connection(app: Celery, timeout: float) -> Connection:
    """A broker connection of our own whose every socket operation gives up after `timeout`.

    No retries: a caller with a deadline wants the failure, not a reconnect loop.
    """
    return app.connection_for_read(
        transport_options={"socket_timeout": timeout, "socket_connect_timeout": timeout, "max_retries": 0},
        connect_timeout=timeout,
    )


def user_snapshot() -> dict:
    now = timezone.now()
    users = get_user_model().objects
    return {
        "active_sessions": Session.objects.filter(expire_date__gte=now).count(),
        "active_users": users.filter(last_login__gte=now - ACTIVE_USER_WINDOW).count(),
        "total_users": users.count(),
    }


def ask_workers(app: Celery, timeout: float, expected: int = 0) -> tuple[dict[str, dict], dict]:
    """Broadcast `task_counts` (monitor/worker_control.py) once and collect the replies.

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


def control_mailbox(app: Celery, conn: Connection) -> Mailbox:
    """A remote-control mailbox of our own on `conn`.

    Private because app.control publishes through the app-wide producer pool,
    whose connections have neither our short timeouts nor a bound on retries.
    """
    return Mailbox(
        app.conf.control_exchange,
        type="fanout",
        accept=["json"],
        serializer="json",
        reply_queue_ttl=app.conf.control_queue_ttl,
        reply_queue_expires=app.conf.control_queue_expires,
    )(conn)


def broadcast_and_collect(
    app: Celery, conn: Connection, command: str, wait: float, expected: int = 0, mailbox: Mailbox | None = None
) -> dict[str, dict]:
    """Send a remote-control command to every worker; gather replies for `wait` seconds.

    Replies are fetched with non-blocking gets rather than kombu's blocking
    drain, whose Redis wait rounds up to whole seconds and would overrun the
    status budget. Without `mailbox` a new one is used and its reply queue
    deleted afterwards; a caller that asks every cycle passes its own and keeps
    one reply queue bound between calls (replies are matched by ticket, so a
    late answer to an earlier call is skipped).
    """
    own_mailbox = mailbox is None
    if mailbox is None:
        mailbox = control_mailbox(app, conn)
    channel = conn.default_channel
    ticket = uuid()
    mailbox._publish(command, {}, reply_ticket=ticket, channel=channel, timeout=wait)
    reply_queue = mailbox.reply_queue(channel)
    replies: dict[str, dict] = {}
    started = time.monotonic()
    deadline = started + wait

    def answered() -> bool:
        return bool(expected) and len(replies) >= expected

    try:
        while (now := time.monotonic()) < deadline and not answered():
            # Sleep first: no worker answers within microseconds.
            fast = now - started < REPLY_FAST_WINDOW_SECONDS or len(replies) < expected
            time.sleep(min(REPLY_POLL_SECONDS if fast else REPLY_POLL_SLOW_SECONDS, max(0.0, deadline - now)))
            while not answered() and (message := reply_queue.get(no_ack=True, accept=["json"])) is not None:
                if message.headers.get("ticket") == ticket:
                    replies.update(message.decode())
    finally:
        if own_mailbox:
            # Each new mailbox's reply queue is new; left bound, the Redis binding
            # set grows by one per call and every worker reply reads it all.
            reply_queue.delete()
    return replies


def queue_depths(conn: Connection, queues: list[str]) -> dict[str, int]:
    """Messages waiting in each queue (passive declare: works on Redis and the filesystem broker)."""
    depths: dict[str, int] = {}
    channel = conn.default_channel
    for queue in queues:
        try:
            depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
        except conn.channel_errors:  # never declared yet: nothing waiting
            depths[queue] = 0
    return depths


def _broker_check(app: Celery, timeout: float) -> dict:
    with broker_connection(app, timeout) as conn:
        return {"queues": queue_depths(conn, [app.conf.task_default_queue])}


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
        "broker": lambda: _broker_check(app, timeout),
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


def enqueue_collection(app: Celery, timeout: float) -> list[str]:
    """Send one collection cycle now; raises if the broker does not take it within `timeout`.

    Publishing runs on a connection of its own with short socket timeouts and
    no retries, in a thread the caller waits for at most `timeout` seconds.
    """

    def publish() -> list[str]:
        with broker_connection(app, timeout) as conn:
            conn.ensure_connection(max_retries=0)  # a refusal is the answer, at once
            names = ("monitor.tasks.collect_host_metrics", "monitor.tasks.collect_server_status")
            return [app.send_task(name, connection=conn, retry=False, expires=60).id for name in names]

    try:
        return call_within(timeout, publish)
    except Exception as exc:
        raise BrokerUnavailable(describe(exc)) from exc


class BrokerUnavailable(Exception):
    """The broker refused, failed or did not answer in time."""
