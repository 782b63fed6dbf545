"""The outbox survives a sender killed mid-delivery and a broker that is down.

The sender is a real process (`manage.py shell` running send_due) on the test
database; the receiver is a real HTTP server that takes the request and does
not answer while the process is killed with SIGKILL. The message's lease runs
out, the next sender delivers it, and the receiver accepts it exactly once.
"""

import os
import signal
import socket
import sys
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from alert_receivers import alert, fire, http_receiver, rule
from monitor.alerts.delivery_tasks import plan_notifications, send_notifications
from monitor.alerts.grouping import plan
from monitor.alerts.models import Channel, Notification
from monitor.alerts.outbox import send_due
from procs import broker_at, child_env, closed_port, running, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_shipped_rules")]


SENDER = "from monitor.alerts.outbox import send_due; send_due()"


def test_a_sender_killed_mid_delivery_is_retried_and_the_message_accepted_once(tmp_path):
    release = threading.Event()
    calls = []

    def answer(request):
        calls.append(request)
        if len(calls) == 1:  # the first request hangs until the test lets go, then is dropped unanswered
            release.wait(60)
            return 0, b""
        return 200, b"{}"

    with http_receiver(answer=answer) as receiver:
        channel = Channel.objects.create(name="ops", kind="webhook", target=receiver.url, group_wait=0, timeout=20)
        fire(alert(rule("disk_nearly_full", metric="disk.used_percent"), "db-1"), timezone.now())
        assert plan() == 1
        log = tmp_path / "sender.log"
        with running([sys.executable, "manage.py", "shell", "-c", SENDER], child_env(tmp_path), log) as sender:
            wait_for(lambda: receiver.arrived, 60, "the sender's request to reach the receiver", poll=0.05)
            os.killpg(sender.pid, signal.SIGKILL)
            sender.wait(10)
        release.set()

        row = Notification.objects.get()
        assert (row.status, row.attempts) == ("sending", 1), "claimed by the killed sender"
        assert row.claimed_until > timezone.now() + timedelta(seconds=3 * channel.timeout)
        assert send_due().sent == 0, "another sender leaves a live claim alone"
        assert len(receiver.arrived) == 1

        report = send_due(row.claimed_until + timedelta(seconds=1))  # the lease has run out
        assert report.sent == 1
        assert send_due(row.claimed_until + timedelta(seconds=60)).sent == 0

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(receiver.received) == 1, "accepted exactly once"
    assert receiver.received[0].json()["alerts"][0]["labels"]["host"] == "db-1"


def test_with_the_broker_down_plan_queues_and_the_next_send_delivers(tmp_path, caplog):
    with http_receiver() as receiver:
        Channel.objects.create(name="ops", kind="webhook", target=receiver.url, group_wait=0)
        fire(alert(rule("cpu_busy"), "db-1"), timezone.now())
        with broker_at(f"redis://127.0.0.1:{closed_port()}/0"):
            # Run in this process, as beat's next tick would once a worker gets it: the send it asks for is lost.
            assert plan_notifications.apply().get() == 1
        assert "could not ask for a send now" in caplog.text
        assert receiver.received == []
        assert Notification.objects.get().status == "pending"
        assert send_notifications.apply().get() == 1
    assert len(receiver.received) == 1


@contextmanager
def slow_server(talk):
    """A server on a spare port that runs `talk(connection, stop)` for its one client; yields the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def serve():
        conn, _ = listener.accept()
        with conn:
            talk(conn, stop)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()


def drip_lines(conn, stop, line: bytes) -> None:
    """Send `line` every 0.3 s until stopped: each read is quick, the answer never ends."""
    while not stop.is_set():
        try:
            conn.sendall(line)
        except OSError:
            return
        time.sleep(0.3)


def test_a_receiver_that_drips_its_answer_is_cut_at_the_channels_timeout():
    from monitor.alerts.channels import DeliveryError
    from monitor.alerts.channels.http import post_json

    def talk(conn, stop):
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        drip_lines(conn, stop, b" ")

    with slow_server(talk) as port:
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="no complete answer within 1.5 s"):
            post_json(f"http://127.0.0.1:{port}/hook", {"a": 1}, timeout=1.5)
        assert time.monotonic() - started < 3


def test_a_mail_server_that_drips_its_last_answer_is_cut_at_the_channels_timeout(settings):
    from monitor.alerts.channels import DeliveryError, email
    from monitor.alerts.models import Channel

    def talk(conn, stop):
        reader = conn.makefile("rb")
        conn.sendall(b"220 drip ESMTP\r\n")
        while not stop.is_set():
            line = reader.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250 drip\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go on\r\n")
                while reader.readline() not in (b".\r\n", b""):
                    pass
                drip_lines(conn, stop, b"250-still writing it down\r\n")  # a reply that goes on and on
            else:
                conn.sendall(b"250 ok\r\n")

    with slow_server(talk) as port:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        channel = Channel(name="mail", kind="email", target="ops@example.com", timeout=1.5)
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="not sent within 1.5 s"):
            email.deliver(channel, {"subject": "s", "body": "b\n"})
        assert time.monotonic() - started < 3
