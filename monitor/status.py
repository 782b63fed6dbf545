"""The application-status snapshot: sessions, users, broker, workers and tasks.

Every call to the broker runs against a hard deadline, so the status endpoint
answers in bounded time whether the broker is up, refusing connections, frozen
(accepting connections but never answering) or has no worker listening.
"""

import threading
import time
from datetime import timedelta

from celery import Celery
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.utils import timezone
from kombu import Connection
from kombu.pidbox import Mailbox
from kombu.utils.uuid import uuid

ACTIVE_USER_WINDOW = timedelta(minutes=30)
TASK_KINDS = ("active", "scheduled", "reserved")
REPLY_POLL_SECONDS = 0.02


def user_snapshot() -> dict:
    now = timezone.now()
    users = get_user_model().objects
    return {
        "active_sessions": Session.objects.filter(expire_date__gte=now).count(),
        "active_users": users.filter(last_login__gte=now - ACTIVE_USER_WINDOW).count(),
        "total_users": users.count(),
    }


def ask_workers(app: Celery, timeout: float) -> tuple[dict[str, dict], dict]:
    """Broadcast `task_counts` (monitor/worker_control.py) once and collect the replies.

    Runs in a daemon thread whose sockets time out within the budget; the
    caller waits at most `timeout` seconds. Returns (replies by worker, broker).
    """
    outcome: dict = {}

    def ask() -> None:
        try:
            with app.connection_for_read(
                transport_options={"socket_timeout": timeout, "socket_connect_timeout": timeout, "max_retries": 0},
                connect_timeout=timeout,
            ) as conn:
                replies = _broadcast_and_collect(app, conn, "task_counts", wait=timeout * 0.6)
                # Recorded before the connection closes: closing a Redis
                # connection can take a few hundred ms the caller need not wait.
                outcome["replies"] = replies
        except Exception as exc:  # any broker failure is reported, never raised
            outcome["error"] = f"{type(exc).__name__}: {exc}"[:300]

    worker = threading.Thread(target=ask, name="status-broadcast", daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(timeout)
    if "replies" in outcome:
        return outcome["replies"], {"state": "ok", "latency_ms": round((time.monotonic() - started) * 1000)}
    if "error" in outcome:
        return {}, {"state": "unreachable", "error": outcome["error"]}
    return {}, {"state": "timeout", "error": f"no answer from the broker within {timeout:.1f}s"}


def _broadcast_and_collect(app: Celery, conn: Connection, command: str, wait: float) -> dict[str, dict]:
    """Send a remote-control command to every worker; gather replies for `wait` seconds.

    Replies are fetched with non-blocking gets rather than kombu's blocking
    drain, whose Redis wait rounds up to whole seconds and would overrun the
    status budget. The mailbox is private: app.control publishes through the
    app-wide producer pool, whose connections have neither this call's short
    timeouts nor a bound on retries.
    """
    mailbox = Mailbox(
        app.conf.control_exchange,
        type="fanout",
        accept=["json"],
        serializer="json",
        reply_queue_ttl=app.conf.control_queue_ttl,
        reply_queue_expires=app.conf.control_queue_expires,
    )(conn)
    channel = conn.default_channel
    ticket = uuid()
    mailbox._publish(command, {}, reply_ticket=ticket, channel=channel, timeout=wait)
    reply_queue = mailbox.reply_queue(channel)
    replies: dict[str, dict] = {}
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        message = reply_queue.get(no_ack=True, accept=["json"])
        if message is None:
            time.sleep(REPLY_POLL_SECONDS)
            continue
        if message.headers.get("ticket") == ticket:
            replies.update(message.decode())
    return replies


def queue_depths(app: Celery, queues: list[str], timeout: float) -> dict[str, int]:
    """Messages waiting in each queue (passive declare: works on Redis and the filesystem broker)."""
    depths: dict[str, int] = {}
    with app.connection_for_read(
        transport_options={"socket_timeout": timeout, "socket_connect_timeout": timeout, "max_retries": 0},
        connect_timeout=timeout,
    ) as conn:
        channel = conn.default_channel
        for queue in queues:
            try:
                depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except conn.channel_errors:  # never declared yet: nothing waiting
                depths[queue] = 0
    return depths


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
