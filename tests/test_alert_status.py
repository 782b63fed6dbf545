"""Health warns (not fails) while a critical alert fires; application status counts alerts by state."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.alerts.models import Alert, AlertRule, Channel, Notification
from monitor.alerts.status import alert_counts
from monitor.api.auth import issue_token
from monitor.models import CollectionCycle, Host
from procs import broker_at


def make_alerts(*states: str) -> None:
    rule = AlertRule.objects.get_or_create(name="disk_x", defaults={"metric": "disk.used_percent", "warning": 85})[0]
    since = timezone.now() - timedelta(minutes=10)
    for n, state in enumerate(states):
        Alert.objects.create(
            rule=rule,
            fingerprint=f"{n:040d}",
            host=f"web-{n}",
            state=state,
            summary=f"/ on web-{n} is full",
            firing_since=since + timedelta(seconds=n),
        )


@pytest.mark.django_db
def test_alert_counts_cover_every_state_in_one_query(django_assert_num_queries):
    make_alerts("critical", "critical", "warning", "ok", "nodata")
    with django_assert_num_queries(1):
        counts = alert_counts()
    assert counts == {"ok": 1, "pending": 0, "warning": 1, "critical": 2, "nodata": 1}


@pytest.mark.django_db
def test_application_status_keeps_its_keys_and_adds_alert_counts(client):
    make_alerts("warning", "pending")
    body = client.get("/monitor/application/").json()
    assert {"active_sessions", "active_users", "total_users", "active_tasks", "workers_online"} <= set(body)
    assert body["alerts"] == {"ok": 0, "pending": 1, "warning": 1, "critical": 0, "nodata": 0}


@pytest.mark.django_db
def test_application_status_shows_the_notification_outbox_waiting_and_given_up(client):
    assert client.get("/monitor/application/").json()["notifications"] == {
        "pending": 0,
        "failed": 0,
        "oldest_pending_age_seconds": None,
    }
    channel = Channel.objects.create(name="ops", kind=Channel.Kind.WEBHOOK, target="http://127.0.0.1:9/hook")
    queued = timezone.now() - timedelta(minutes=5)
    for n, status in enumerate(["pending", "sending", "failed", "sent"]):
        Notification.objects.create(
            channel=channel, group_key="g", dedup_key=f"k{n}", payload={}, status=status, created_at=queued
        )
    outbox = client.get("/monitor/application/").json()["notifications"]
    assert outbox["pending"] == 2 and outbox["failed"] == 1
    assert 300 <= outbox["oldest_pending_age_seconds"] < 360


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_critical_alert_makes_health_warn_with_details_only_for_a_token(client, redis_url, settings):
    settings.ALERTS_HEALTH_LIST = 2
    Host.objects.create(name="worker-host", last_seen=timezone.now())
    CollectionCycle.objects.create(task_id="cycle-1", host="worker-host", stored_at=timezone.now())
    make_alerts("critical", "nodata", "critical", "warning")
    key = issue_token("health reader", "read")[1]
    with broker_at(redis_url):
        anonymous = client.get("/monitor/health/")
        detailed = client.get("/monitor/health/", HTTP_AUTHORIZATION=f"Token {key}")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"status": "warn", "failed": [], "warnings": ["alerts"]}
    assert detailed.status_code == 200
    alerts = detailed.json()["checks"]["alerts"]
    assert alerts["state"] == "warn" and alerts["firing_critical"] == 3
    assert [(a["rule"], a["host"]) for a in alerts["critical"]] == [("disk_x", "web-0"), ("disk_x", "web-1")]
    assert alerts["critical"][0]["summary"] == "/ on web-0 is full" and alerts["critical"][0]["since"]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_warning_alert_leaves_health_ok(client, redis_url):
    Host.objects.create(name="worker-host", last_seen=timezone.now())
    CollectionCycle.objects.create(task_id="cycle-1", host="worker-host", stored_at=timezone.now())
    make_alerts("warning", "pending")
    with broker_at(redis_url):
        body = client.get("/monitor/health/").json()
    assert body == {"status": "ok", "failed": [], "warnings": []}
