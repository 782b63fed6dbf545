"""Talking to the Celery broker and the workers with short timeouts and no retry loops.

Shared by the web process (status, health, "collect now") and the worker's queue
probe: every call here gives up within the budget it is given, so a broker that
is down or frozen becomes an answer, never a hang.
"""

import time

from celery import Celery
from kombu import Connection
from kombu.pidbox import Mailbox
from kombu.utils.uuid import uuid
from redis.exceptions import TimeoutError as RedisTimeout

from .deadline import DeadlineExceeded, call_within, describe

# Replies are polled for every REPLY_POLL_SECONDS while some are still awaited
# (most workers answer within tens of ms), then, when the whole window is
# listened to, every REPLY_POLL_SLOW_SECONDS: an empty poll costs a round trip
# per priority level, and a window of 1.2 s polled at 20 ms was 60 of them.
REPLY_POLL_SECONDS = 0.02
REPLY_POLL_SLOW_SECONDS = 0.1
REPLY_FAST_WINDOW_SECONDS = 0.1


class BrokerUnavailable(Exception):
    """The broker refused, failed or did not answer in time."""


def broker_failure(exc: BaseException) -> dict:
    """The broker state `exc` stands for, with the error: `timeout` or `unreachable`.

    A frozen broker (accepts connections, never answers) shows up as a
    deadline or a socket read timeout, which kombu may have re-raised as its
    own OperationalError (the timeout is its cause); anything else (refused,
    reset, bad answer) is `unreachable`.
    """
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, (DeadlineExceeded, TimeoutError, RedisTimeout)):
        cause = cause.__cause__
    return {"state": "unreachable" if cause is None else "timeout", "error": describe(exc)}


def broker_connection(app: Celery, timeout: float) -> Connection:
    """A broker connection of our own whose every socket operation gives up after `timeout`.

    No retries: a caller with a deadline wants the failure, not a reconnect loop.
    """
    return app.connection_for_read(
        transport_options={"socket_timeout": timeout, "socket_connect_timeout": timeout, "max_retries": 0},
        connect_timeout=timeout,
    )


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
    app: Celery,
    conn: Connection,
    command: str,
    wait: float,
    expected: int = 0,
    mailbox: Mailbox | None = None,
    known: dict[str, dict] | None = None,
) -> dict[str, dict]:
    """Send a remote-control command to every worker; gather replies for `wait` seconds.

    Replies are fetched with non-blocking gets rather than kombu's blocking
    drain, whose Redis wait rounds up to whole seconds and would overrun the
    status budget. With `expected` > 0 it stops as soon as that many workers
    have answered. Without `mailbox` a new one is used and its reply queue
    deleted afterwards; a caller that asks every cycle passes its own and keeps
    one reply queue bound between calls (replies are matched by ticket, so a
    late answer to an earlier call is skipped). `known`: answers the caller
    already has (its own worker's), counted towards `expected`.
    """
    own_mailbox = mailbox is None
    if mailbox is None:
        mailbox = control_mailbox(app, conn)
    channel = conn.default_channel
    ticket = uuid()
    # Private kombu API, on purpose: Celery's public app.control.broadcast(command,
    # reply=True, limit=..., timeout=..., connection=conn) cost the queue probe more CPU
    # per cycle, 2.6-3.1 ms against 2.1-2.6 ms here (bench/queue_probe_broadcast.py,
    # three runs of 40-120 one-second cycles each way, one worker, same hour): it
    # consumes through a Consumer it declares every call, deletes the reply queue after
    # each (kombu's after_reply_message_received), so the next call declares and binds
    # it again, and publishes through the app's producer pool instead of `conn`. Its
    # blocking drain hears the replies sooner (4-10 ms against 23-27 ms of wall time),
    # which a probe once a second does not need. Check the figures again on a kombu
    # upgrade: Mailbox._publish may change without notice.
    mailbox._publish(command, {}, reply_ticket=ticket, channel=channel, timeout=wait)
    reply_queue = mailbox.reply_queue(channel)
    replies: dict[str, dict] = dict(known or {})
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


def send_tasks(app: Celery, names: tuple[str, ...], timeout: float, expires: float) -> list[str]:
    """Send tasks by name now; raises BrokerUnavailable if the broker does not take them within `timeout`.

    Publishing runs on a connection of its own with short socket timeouts and
    no retries, in a thread the caller waits for at most `timeout` seconds.
    """

    def publish() -> list[str]:
        with broker_connection(app, timeout) as conn:
            conn.ensure_connection(max_retries=0)  # a refusal is the answer, at once
            return [app.send_task(name, connection=conn, retry=False, expires=expires).id for name in names]

    try:
        return call_within(timeout, publish)
    except Exception as exc:
        raise BrokerUnavailable(describe(exc)) from exc
