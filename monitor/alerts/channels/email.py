"""Email through Django's mail backend (EMAIL_HOST/EMAIL_PORT...): subject "[FIRING:2] rule host", text body."""

from __future__ import annotations

import smtplib
import time
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from . import MAX_ALERTS_SHOWN, DeliveryError, GroupMessage, shut_at, text_lines


def render(message: GroupMessage) -> dict[str, Any]:
    lines = [message.title(), "", *text_lines(message, limit=MAX_ALERTS_SHOWN)]
    if message.external_url:
        lines += ["", message.external_url]
    # One line: a host or rule name an agent sent may hold a newline, which the mail library refuses in a
    # header (BadHeaderError), so the message could never be sent.
    subject = " ".join(message.title().split())
    return {"subject": subject, "body": "\n".join(lines).rstrip() + "\n"}


def recipients(target: str) -> list[str]:
    return [address.strip() for address in target.replace(";", ",").split(",") if address.strip()]


def deliver(channel, payload: dict[str, Any]) -> None:
    to = recipients(channel.target)
    if not to:
        raise DeliveryError("the channel has no address to send to")
    deadline = time.monotonic() + channel.timeout
    connection = get_connection(timeout=channel.timeout)
    timer = None
    try:
        connection.open()  # the connect and greeting: each step within the timeout
        sock = getattr(getattr(connection, "connection", None), "sock", None)  # an SMTP backend's socket
        timer = shut_at(sock, deadline) if sock is not None else None
        sent = EmailMessage(
            payload["subject"], payload["body"], settings.ALERTS_EMAIL_FROM, to, connection=connection
        ).send()
    except (smtplib.SMTPException, OSError) as exc:
        if time.monotonic() >= deadline:
            raise DeliveryError(f"email to {', '.join(to)}: not sent within {channel.timeout:g} s") from exc
        raise DeliveryError(f"email to {', '.join(to)}: {exc}") from exc
    finally:
        if timer is not None:
            timer.cancel()
        try:
            connection.close()
        except (smtplib.SMTPException, OSError):
            pass  # the socket was shut at the deadline
    if sent != 1:
        raise DeliveryError("the mail backend sent nothing")
