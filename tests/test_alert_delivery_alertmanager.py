"""Alerts forwarded to a real Alertmanager (Debian's prometheus-alertmanager) show up in its API, and resolve there.

The Alertmanager is our own, on a spare port with a temporary configuration
and storage path; skipped when not installed unless REQUIRE_SERVICES=1.
"""

import json
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone

from alert_receivers import alert, fire, resolve, rule
from monitor.alerts.grouping import plan
from monitor.alerts.models import AlertState, Channel, Notification
from monitor.alerts.outbox import send_due
from procs import closed_port
from servers import Server, need_program

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("without_shipped_rules")]


CONFIG = """
route:
  receiver: nowhere
  group_wait: 1h
receivers:
  - name: nowhere
"""


def get(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read() or b"null")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def alertmanager(tmp_path):
    program = need_program("prometheus-alertmanager", "alertmanager")
    port = closed_port()
    (tmp_path / "alertmanager.yml").write_text(CONFIG)
    args = [
        program,
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip: a single private instance
    ]
    url = f"http://127.0.0.1:{port}"
    server = Server(args, port, tmp_path / "alertmanager.log", lambda: answers(url + "/-/ready"), "alertmanager")
    server.start(timeout=60)
    try:
        yield url
    finally:
        server.stop()


def test_forwarded_alerts_appear_in_alertmanager_and_resolve_there(alertmanager):
    Channel.objects.create(
        name="am", kind="alertmanager", target=alertmanager, group_wait=0, group_interval=0, repeat_interval=60
    )
    disk = rule("disk_nearly_full", metric="disk.used_percent", labels={"team": "dba"})
    root = alert(disk, "db-1", "disk.used_percent:/", mount="/")
    now = timezone.now()
    fire(root, now, AlertState.CRITICAL, 97.0, summary="Disk / on db-1 is 97% full")
    plan(now)
    assert send_due(now).sent == 1

    [shown] = get(alertmanager + "/api/v2/alerts")
    assert shown["labels"] == {
        "alertname": "disk_nearly_full",
        "host": "db-1",
        "metric": "disk.used_percent",
        "mount": "/",
        "team": "dba",
        "severity": "critical",
    }
    assert shown["annotations"]["summary"] == "Disk / on db-1 is 97% full"
    assert shown["status"]["state"] == "active"
    assert shown["startsAt"].startswith(now.strftime("%Y-%m-%dT%H:%M:%S"))

    later = timezone.now()
    resolve(root, later)
    plan(later + timedelta(seconds=1))
    assert send_due(later + timedelta(seconds=1)).sent == 1
    assert get(alertmanager + "/api/v2/alerts?active=true") == []
    assert Notification.objects.filter(status="sent").count() == 2


def test_after_a_change_of_severity_no_old_label_set_stays_active_in_alertmanager(alertmanager):
    Channel.objects.create(
        name="am", kind="alertmanager", target=alertmanager, group_wait=0, group_interval=0, repeat_interval=60
    )
    disk = rule("disk_nearly_full", metric="disk.used_percent")
    root = alert(disk, "db-1", "disk.used_percent:/", mount="/")
    start = timezone.now() - timedelta(seconds=30)  # every instant in the past: an endsAt ahead keeps an alert active
    fire(root, start, AlertState.WARNING, 88.0)
    plan(start)
    send_due(start)
    critical = start + timedelta(seconds=10)
    fire(root, critical, AlertState.CRITICAL, 97.0)
    plan(critical)
    send_due(critical)
    active = get(alertmanager + "/api/v2/alerts?active=true")
    assert [a["labels"]["severity"] for a in active] == ["critical"]  # the warning was ended, not left to expire
    done = critical + timedelta(seconds=10)
    resolve(root, done)
    plan(done)
    send_due(done)
    assert get(alertmanager + "/api/v2/alerts?active=true") == []
