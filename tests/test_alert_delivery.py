"""Notifications reach real receivers: an SMTP server (aiosmtpd) and HTTP servers standing in for
Alertmanager webhook receivers and the DingTalk, WeCom and Feishu robots.

The planner runs on a simulated clock (`plan(now)`, `send_due(now)`); the
deliveries are real SMTP dialogues and HTTP requests.
"""

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from alert_receivers import alert, fire, http_receiver, resolve, rule, smtp_server
from monitor.alerts.grouping import plan
from monitor.alerts.models import AlertState, Channel, Notification
from monitor.alerts.outbox import outbox_summary, send_due

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("without_shipped_rules")]


T0 = timezone.now().replace(microsecond=0)
SECRET = "SEC0123456789abcdef"


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def tick(start: float, end: float, step: float = 10) -> None:
    """The beat entries: plan, then send, every `step` seconds of the simulated clock."""
    t = start
    while t <= end:
        plan(at(t))
        send_due(at(t))
        t += step


def channel(kind: str, target: str, **fields) -> Channel:
    defaults = {"name": f"{kind}-test", "group_wait": 30, "group_interval": 300, "repeat_interval": 3600, "timeout": 5}
    return Channel.objects.create(kind=kind, target=target, **{**defaults, **fields})


@pytest.fixture
def host_rule():
    return rule("host_not_reporting", metric="host.seen", inhibits_host=True, description="no samples from the host")


@pytest.fixture
def disk():
    return rule("disk_nearly_full", metric="disk.used_percent", labels={"team": "dba"})


def test_a_webhook_receiver_hears_a_host_stop_and_come_back_in_alertmanagers_format(host_rule, disk, settings):
    settings.ALERTS_EXTERNAL_URL = "https://monitor.example.com"
    down = alert(host_rule, "db-1")
    cpu = alert(rule("cpu_busy"), "db-1")
    with http_receiver() as receiver:
        channel("webhook", receiver.url + "/hook")
        fire(down, at(0), AlertState.NODATA, None, summary="db-1 has not reported for 60 s")
        fire(cpu, at(0), AlertState.NODATA, None)  # its metric stopped with the host: inhibited
        tick(0, 200)
        resolve(down, at(200), value=1.0)
        resolve(cpu, at(200), value=12.0)
        tick(200, 600)
    firing, resolved = [r.json() for r in receiver.received]
    assert receiver.received[0].path == "/hook"
    assert firing["version"] == "4" and firing["status"] == "firing" and firing["receiver"] == "webhook-test"
    assert firing["groupKey"] == '{}:{alertname="host_not_reporting", host="db-1"}'
    assert firing["truncatedAlerts"] == 0
    assert firing["externalURL"] == "https://monitor.example.com"
    assert firing["groupLabels"] == {"alertname": "host_not_reporting", "host": "db-1"}
    assert firing["commonLabels"] == {
        "alertname": "host_not_reporting",
        "host": "db-1",
        "metric": "host.seen",
        "severity": "critical",
    }
    assert firing["commonAnnotations"] == {
        "summary": "db-1 has not reported for 60 s",
        "description": "no samples from the host",
    }
    [item] = firing["alerts"]
    assert set(item) == {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
    assert item["status"] == "firing" and item["fingerprint"] == down.fingerprint
    assert item["startsAt"] == at(0).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert item["endsAt"] == "0001-01-01T00:00:00Z"
    assert item["generatorURL"] == "https://monitor.example.com/hosts/db-1/"
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["labels"]["severity"] == "critical", "as it fired"
    assert resolved["alerts"][0]["endsAt"] == at(200).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_email_tells_of_a_disk_that_fills_and_empties(disk, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.ALERTS_EMAIL_FROM = "monitor@example.com"
    root = alert(disk, "db-1", "disk.used_percent:/", mount="/")
    var = alert(disk, "db-1", "disk.used_percent:/var", mount="/var")
    with smtp_server() as (port, mailbox):
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        channel("email", "dba@example.com, ops@example.com")
        fire(root, at(0), AlertState.WARNING, 91.5, summary="Disk / on db-1 is 91.5% full")
        fire(var, at(5), AlertState.CRITICAL, 97.25, summary="Disk /var on db-1 is 97.25% full")
        tick(0, 100)
        resolve(root, at(100), value=60.0)
        resolve(var, at(100), value=55.0)
        tick(100, 500)
    firing, resolved = mailbox.messages
    assert mailbox.envelopes[0] == ("monitor@example.com", ["dba@example.com", "ops@example.com"])
    assert firing["Subject"] == "[FIRING:2] disk_nearly_full db-1"
    body = firing.get_payload(decode=True).decode()
    assert "Disk /var on db-1 is 97.25% full" in body and "value: 97.25" in body
    assert "[critical]" in body and "[warning]" in body
    assert f"since {at(5):%Y-%m-%d %H:%M:%S} UTC" in body
    assert "mount=/var" in body and "team=dba" in body
    assert resolved["Subject"] == "[RESOLVED] disk_nearly_full db-1"
    body = resolved.get_payload(decode=True).decode()
    assert "Resolved (2):" in body and f"resolved at {at(100):%Y-%m-%d %H:%M:%S} UTC" in body


def dingtalk_answer(request):
    timestamp, sign = request.query.get("timestamp", ""), request.query.get("sign", "")
    expected = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    fresh = timestamp.isdigit() and abs(int(timestamp) / 1000 - time.time()) < 3600
    if fresh and hmac.compare_digest(base64.b64encode(expected).decode(), sign):
        return 200, b'{"errcode":0,"errmsg":"ok"}'
    return 200, b'{"errcode":310000,"errmsg":"sign not match"}'


def test_a_signed_dingtalk_request_verifies(disk):
    root = alert(disk, "db-1", "disk.used_percent:/")
    with http_receiver(answer=dingtalk_answer) as robot:
        channel("dingtalk", robot.url + "/robot/send?access_token=abc", secret=SECRET, group_wait=0)
        fire(root, at(0), AlertState.CRITICAL, 97.0)
        tick(0, 0)
    [request] = robot.received
    assert request.path == "/robot/send" and request.query["access_token"] == "abc"
    body = request.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "[FIRING:1] disk_nearly_full db-1"
    assert "**critical**" in body["markdown"]["text"]
    assert Notification.objects.get().status == "sent"


def test_a_robot_answering_errcode_is_retried_with_the_error_kept(disk, settings):
    settings.ALERTS_RETRY_BASE = 30
    root = alert(disk, "db-1", "disk.used_percent:/")
    with http_receiver(answer=dingtalk_answer) as robot:
        wrong = channel("dingtalk", robot.url + "/robot/send", secret="not-the-secret", group_wait=0)
        fire(root, at(0))
        tick(0, 0)
        row = Notification.objects.get()
        assert (row.status, row.attempts) == ("pending", 1)
        assert "errcode=310000 sign not match" in row.last_error
        assert row.next_attempt_at == at(30)
        wrong.secret = SECRET  # the operator fixes the channel; the queued message goes out with it
        wrong.save()
        send_due(at(29))
        assert len(robot.arrived) == 1, "not due before its backoff"
        send_due(at(30))
    row.refresh_from_db()
    assert (row.status, row.attempts, len(robot.arrived)) == ("sent", 2, 2)


def feishu_answer(request):
    body = request.json()
    timestamp = body.get("timestamp", "")
    expected = hmac.new(f"{timestamp}\n{SECRET}".encode(), b"", hashlib.sha256).digest()
    if (
        timestamp.isdigit()
        and abs(int(timestamp) - time.time()) < 3600
        and body.get("sign") == base64.b64encode(expected).decode()
    ):
        return 200, b'{"code":0,"msg":"success","data":{}}'
    return 200, b'{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}'


def test_a_signed_feishu_request_verifies_and_a_bad_signature_is_a_failure(disk):
    root = alert(disk, "db-1", "disk.used_percent:/")
    with http_receiver(answer=feishu_answer) as robot:
        good = channel("feishu", robot.url + "/open-apis/bot/v2/hook/x", secret=SECRET, group_wait=0)
        channel("feishu-bad", robot.url + "/open-apis/bot/v2/hook/y", secret="wrong", group_wait=0)
        Channel.objects.filter(name="feishu-bad-test").update(kind="feishu")
        fire(root, at(0), AlertState.WARNING, 88.0)
        tick(0, 0)
    [request] = [r for r in robot.received if r.path.endswith("/x")]
    body = request.json()
    assert body["msg_type"] == "text"
    assert body["content"]["text"].startswith("[FIRING:1] disk_nearly_full db-1")
    assert Notification.objects.get(channel=good).status == "sent"
    bad = Notification.objects.exclude(channel=good).get()
    assert bad.status == "pending" and "code=19021" in bad.last_error


def test_wecom_gets_markdown_within_4096_bytes(disk):
    with http_receiver() as robot:
        channel("wecom", robot.url + "/cgi-bin/webhook/send?key=k", group_wait=0)
        for n in range(200):
            fire(alert(disk, "db-1", f"disk.used_percent:/data{n}"), at(0), summary="磁盘快满了 " + "x" * 40)
        tick(0, 0)
    [request] = robot.received
    body = request.json()
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert content.startswith("### [FIRING:200] disk_nearly_full db-1")


def test_a_receiver_that_is_down_gets_the_message_when_it_comes_back_after_backoff(disk, settings):
    settings.ALERTS_RETRY_BASE, settings.ALERTS_RETRY_MAX = 30, 100
    root = alert(disk, "db-1", "disk.used_percent:/")
    with http_receiver() as receiver:
        port = receiver.port
    channel("webhook", f"http://127.0.0.1:{port}/", group_wait=0)
    fire(root, at(0))
    plan(at(0))
    tried = []
    for t in (0, 30, 90, 190, 290):  # due at +30, +60, +100 (capped), +100
        assert send_due(at(t)).retried == 1
        row = Notification.objects.get()
        tried.append((row.next_attempt_at - at(t)).total_seconds())
        assert send_due(at(t + 1)).retried == 0, "not due yet"
    assert tried == [30, 60, 100, 100, 100]
    assert "Connection refused" in row.last_error
    assert outbox_summary(at(300)) == {"pending": 1, "failed": 0, "oldest_pending_age_seconds": 300.0}
    with http_receiver(port=port) as receiver:
        send_due(at(390))
    assert len(receiver.received) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 6)
    assert outbox_summary(at(400))["pending"] == 0


def test_after_max_attempts_a_message_fails_for_good(disk, settings):
    settings.ALERTS_MAX_ATTEMPTS, settings.ALERTS_RETRY_BASE = 3, 1
    channel("webhook", "http://127.0.0.1:9/", group_wait=0)
    fire(alert(disk, "db-1", "disk.used_percent:/"), at(0))
    plan(at(0))
    for t in range(0, 100, 5):
        send_due(at(t))
    row = Notification.objects.get()
    assert (row.status, row.attempts) == ("failed", 3) and row.last_error
    assert outbox_summary(at(100)) == {"pending": 0, "failed": 1, "oldest_pending_age_seconds": None}


def test_a_resolved_message_never_overtakes_its_firing_one(disk, settings):
    settings.ALERTS_RETRY_BASE = 1000
    root = alert(disk, "db-1", "disk.used_percent:/")
    with http_receiver() as receiver:
        port = receiver.port
    channel("webhook", f"http://127.0.0.1:{port}/", group_wait=0, group_interval=10)
    fire(root, at(0))
    tick(0, 0)  # the firing message fails, retried in 1000 s
    resolve(root, at(5))
    with http_receiver(port=port) as receiver:
        tick(10, 100)
        assert receiver.received == [], "the resolved message waits for the firing one"
        send_due(at(1000))
    assert [r.json()["status"] for r in receiver.received] == ["firing", "resolved"]


def test_silenced_and_inhibited_alerts_send_nothing_to_a_receiver(host_rule, disk):
    from monitor.alerts.models import Silence

    with http_receiver() as receiver:
        channel("webhook", receiver.url, group_wait=0)
        Silence.objects.create(
            matchers=[{"name": "team", "value": "dba"}],
            starts_at=at(-10),
            ends_at=at(3600),
            created_by="ops",
            comment="maintenance window",
        )
        fire(alert(disk, "db-2", "disk.used_percent:/"), at(0))  # silenced
        fire(alert(rule("cpu_busy"), "db-3"), at(0), AlertState.NODATA, None)  # inhibited
        fire(alert(host_rule, "db-3"), at(0), AlertState.CRITICAL, None)
        tick(0, 600)
    assert [json.loads(r.body)["groupLabels"]["alertname"] for r in receiver.received] == ["host_not_reporting"]


def test_of_two_senders_claiming_one_message_only_one_gets_it(disk):
    from monitor.alerts.outbox import claim

    channel("webhook", "http://127.0.0.1:9/", group_wait=0)
    fire(alert(disk, "db-1", "disk.used_percent:/"), at(0))
    plan(at(0))
    row = Notification.objects.get()
    lease = timedelta(seconds=60)
    assert claim(row.id, at(1), lease) == at(61)
    assert claim(row.id, at(2), lease) is None, "claimed and the lease runs"
    assert claim(row.id, at(62), lease) == at(122), "an expired lease can be taken over"
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sending", 2)


def test_a_dead_channel_costs_one_try_per_run_and_never_keeps_another_channels_message_out():
    from procs import closed_port

    dead = channel("webhook", f"http://127.0.0.1:{closed_port()}/", timeout=1)
    now = timezone.now()
    for group in range(101):  # each group: a firing message being retried and one waiting behind it
        for step in ("firing", "resolved"):
            Notification.objects.create(
                channel=dead, group_key=f"g{group}", dedup_key=f"g{group}-{step}", payload={"status": step}
            )
    with http_receiver() as receiver:
        alive = channel("webhook", receiver.url, timeout=5, name="alive")
        Notification.objects.create(channel=alive, group_key="h", dedup_key="h-1", payload={"status": "firing"})
        report = send_due(now + timedelta(seconds=1))
        assert report.sent == 1 and [r.json() for r in receiver.received] == [{"status": "firing"}]
    assert report.retried == 1  # the dead channel was tried once, not once per group
    assert Notification.objects.filter(channel=dead, attempts__gt=0).count() == 1


def test_an_email_subject_stays_one_line_whatever_the_host_is_named():
    from django.core.mail import EmailMessage

    from monitor.alerts.channels import GroupMessage, email

    payload = email.render(GroupMessage(receiver="ops", rule_name="disk_nearly_full", host="db-7\r\nX-Injected: yes"))
    assert payload["subject"] == "[RESOLVED] disk_nearly_full db-7 X-Injected: yes"
    EmailMessage(payload["subject"], payload["body"], "a@example.com", ["b@example.com"]).message()  # no BadHeaderError


def test_a_firing_alert_forwarded_late_to_alertmanager_still_ends_in_the_future():
    from datetime import UTC, datetime

    from monitor.alerts.channels import FIRING, AlertItem, GroupMessage, alertmanager

    planned = timezone.now() - timedelta(hours=1)  # retried for an hour: 4 x repeat_interval is long past
    item = AlertItem("f1", FIRING, {"alertname": "disk_x", "host": "db-1"}, {}, planned - timedelta(minutes=5))
    message = GroupMessage("am", "disk_x", "db-1", [item], planned_at=planned, repeat_interval=60)
    with http_receiver() as receiver:
        am = channel("alertmanager", receiver.url, repeat_interval=60)
        Notification.objects.create(channel=am, group_key="g", dedup_key="g-1", payload=alertmanager.render(message))
        assert send_due().sent == 1
        (sent,) = receiver.received[0].json()
    ends = datetime.fromisoformat(sent["endsAt"].replace("Z", "+00:00"))
    assert ends > datetime.now(UTC) + timedelta(minutes=3)


def test_a_huge_group_is_cut_to_what_one_message_can_carry():
    from monitor.alerts.channels import FIRING, MAX_ALERTS_SHOWN, AlertItem, GroupMessage, email, webhook

    items = [AlertItem(f"f{i}", FIRING, {"alertname": "x", "disk": str(i)}, {}, timezone.now()) for i in range(1500)]
    message = GroupMessage("ops", "x", "db-1", items)
    payload = webhook.render(message)
    assert len(payload["alerts"]) == MAX_ALERTS_SHOWN and payload["truncatedAlerts"] == 500
    assert "... and 500 more" in email.render(message)["body"]
    assert len(json.dumps(payload)) < 1_000_000
