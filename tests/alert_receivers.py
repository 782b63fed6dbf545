"""Real receivers for notification tests (an HTTP server and an SMTP server in this process) and alert rows.

The alert rows are real Alert rows changed the way evaluation changes them
(state, firing_since, changed_at); the delivery layer reads nothing else.
"""

from __future__ import annotations

import email
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from monitor.alerts.models import Alert, AlertRule, AlertState
from procs import closed_port

# --- HTTP ------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers with `answer(request)`.

    `arrived` lists every request, `received` those answered with a 2xx; an
    answer with status 0 closes the connection without answering.

    `hold` (an Event, set by default) is waited on before answering: clear it and the
    receiver takes requests and never answers, as a hung robot does.
    """

    port: int = 0
    answer: Callable[[Received], tuple[int, bytes]] = lambda request: (200, b'{"errcode":0,"errmsg":"ok"}')
    received: list[Received] = field(default_factory=list)
    arrived: list[Received] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self.hold.set()
        self.port = self.port or closed_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Received(
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    dict(self.headers),
                    self.rfile.read(length),
                )
                receiver.arrived.append(request)
                receiver.hold.wait(120)
                if not receiver.hold.is_set():
                    return  # gave up holding: close without an answer
                status, body = receiver.answer(request)
                if status == 0:
                    return  # close the connection without an answer
                if 200 <= status < 300:
                    receiver.received.append(request)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.hold.set()
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@contextmanager
def http_receiver(**options) -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(**options).start()
    try:
        yield receiver
    finally:
        receiver.stop()


# --- SMTP ------------------------------------------------------------------------------


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[tuple[int, _Mailbox]]:
    """aiosmtpd on a spare port: (port, mailbox with the messages it accepted)."""
    from aiosmtpd.controller import Controller

    mailbox = _Mailbox()
    port = closed_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


# --- alert rows ------------------------------------------------------------------------


def only_our_rules() -> None:
    """Remove the shipped rules (migration 0014): a test's alerts are those of the rules it makes."""
    AlertRule.objects.all().delete()


def shipped_rule(name: str, **changes) -> AlertRule:
    """One of the shipped rules (migration 0014's definitions at METRICS_INTERVAL=10), as a new row."""
    from importlib import import_module

    shipped = {r["name"]: r for r in import_module("monitor.migrations.0014_default_rules").default_rules(10)}
    return AlertRule.objects.create(**{**shipped[name], **changes})


def rule(name: str, **fields) -> AlertRule:
    defaults = {"metric": "cpu.percent", "warning": 80, "critical": 95, "description": f"{name} description"}
    return AlertRule.objects.create(name=name, **{**defaults, **fields})


def alert(rule: AlertRule, host: str, series: str = "", metric: str = "", **labels: str) -> Alert:
    """An alert in state ok with the labels evaluation would give it."""
    metric = metric or rule.metric
    series = series or metric
    identity = f"{rule.name}|{host}|{series}"
    return Alert.objects.create(
        rule=rule,
        fingerprint=hashlib.sha1(identity.encode()).hexdigest(),
        host=host,
        series_name=series,
        labels={**rule.labels, **labels, "alertname": rule.name, "host": host, "metric": metric},
    )


def fire(row: Alert, at: datetime, state: str = AlertState.WARNING, value: float | None = 90.0, summary: str = ""):
    """The alert starts firing (or changes severity) at `at`."""
    if row.state not in (AlertState.WARNING, AlertState.CRITICAL, AlertState.NODATA):
        row.firing_since = at
    row.state, row.value, row.changed_at = state, value, at
    row.summary = summary or f"{row.rule.name} on {row.host}: {row.series_name} is {value}"
    row.save()


def resolve(row: Alert, at: datetime, value: float | None = 10.0) -> None:
    row.state, row.value, row.changed_at, row.firing_since = AlertState.OK, value, at, None
    row.save()
