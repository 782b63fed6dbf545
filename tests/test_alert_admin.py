"""The admin shows alerting's tables; rules are checked as the API checks them; alerts and events are read-only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.alerts.models import Alert, AlertEvent, AlertRule, Silence

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["alertrule", "alert", "alertevent", "silence", "channel", "notification"])
def test_each_changelist_loads(admin_client, model):
    assert admin_client.get(f"/admin/monitor/{model}/").status_code == 200


def test_the_shipped_rules_are_listed(admin_client):
    assert b"host_not_reporting" in admin_client.get("/admin/monitor/alertrule/").content


def rule_form(**changes) -> dict:
    form = {
        "name": "disk_x",
        "enabled": "on",
        "metric": "disk.used_percent",
        "host_pattern": "*",
        "match_labels": "{}",
        "lookup": "avg",
        "window": "300",
        "direction": "above",
        "warning": "85",
        "warning_clear": "80",
        "critical": "",
        "critical_clear": "",
        "for_seconds": "0",
        "keep_firing_for": "0",
        "nodata": "keep",
        "labels": "{}",
        "summary": "",
        "description": "",
    }
    return {**form, **changes}


def test_a_rule_with_its_clear_value_on_the_wrong_side_is_refused(admin_client):
    response = admin_client.post("/admin/monitor/alertrule/add/", rule_form(warning_clear="90"))
    assert response.status_code == 200 and b"clears below" in response.content
    assert not AlertRule.objects.filter(name="disk_x").exists()
    response = admin_client.post("/admin/monitor/alertrule/add/", rule_form())
    assert response.status_code == 302
    assert AlertRule.objects.get(name="disk_x").warning_clear == 80


def test_alerts_and_events_cannot_be_added_or_edited(admin_client):
    rule = AlertRule.objects.get(name="disk_nearly_full")
    alert = Alert.objects.create(rule=rule, fingerprint="f" * 40, host="web-1", state="warning")
    AlertEvent.objects.create(alert=alert, rule_name=rule.name, from_state="ok", to_state="warning")
    assert admin_client.get("/admin/monitor/alert/add/").status_code == 403
    assert admin_client.get("/admin/monitor/alertevent/add/").status_code == 403
    page = admin_client.get(f"/admin/monitor/alert/{alert.id}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content


def test_a_silence_made_in_the_admin_is_signed_by_its_user(admin_client, admin_user):
    end = timezone.now() + timedelta(hours=1)
    response = admin_client.post(
        "/admin/monitor/silence/add/",
        {
            "matchers": '[{"name": "host", "value": "web-1"}]',
            "starts_at_0": timezone.now().strftime("%Y-%m-%d"),
            "starts_at_1": timezone.now().strftime("%H:%M:%S"),
            "ends_at_0": end.strftime("%Y-%m-%d"),
            "ends_at_1": end.strftime("%H:%M:%S"),
            "comment": "maintenance",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert Silence.objects.get().created_by == admin_user.username


def silence_form(matchers: str, starts, ends) -> dict:
    return {
        "matchers": matchers,
        "starts_at_0": starts.strftime("%Y-%m-%d"),
        "starts_at_1": starts.strftime("%H:%M:%S"),
        "ends_at_0": ends.strftime("%Y-%m-%d"),
        "ends_at_1": ends.strftime("%H:%M:%S"),
        "comment": "maintenance",
    }


def test_a_silence_the_api_would_refuse_is_refused_in_the_admin_too(admin_client):
    now = timezone.now()
    later = now + timedelta(hours=1)
    as_object = admin_client.post("/admin/monitor/silence/add/", silence_form('{"host": "web-1"}', now, later))
    assert as_object.status_code == 200 and b"A non-empty list of {name, value, regex} objects." in as_object.content
    bad_regex = admin_client.post(
        "/admin/monitor/silence/add/", silence_form('[{"name": "host", "value": "(", "regex": true}]', now, later)
    )
    assert bad_regex.status_code == 200 and b"not a regular expression" in bad_regex.content
    backwards = admin_client.post(
        "/admin/monitor/silence/add/", silence_form('[{"name": "host", "value": "web-1"}]', later, now)
    )
    assert backwards.status_code == 200 and b"Must be after starts_at." in backwards.content
    assert not Silence.objects.exists()


def channel_form(**changes) -> dict:
    form = {
        "name": "ops",
        "kind": "webhook",
        "enabled": "on",
        "target": "http://127.0.0.1:9/hook",
        "secret": "",
        "send_resolved": "on",
        "min_severity": "warning",
        "matchers": "[]",
        "group_wait": "30",
        "group_interval": "300",
        "repeat_interval": "14400",
        "timeout": "10",
    }
    return {**form, **changes}


def test_a_channel_needs_a_target_it_can_send_to_and_matchers_as_silences_take_them(admin_client):
    from monitor.alerts.models import Channel

    for changes, problem in (
        ({"target": "not a url"}, b"an http(s) URL"),
        ({"kind": "email", "target": "ops@example.com, nobody"}, b"addresses separated by commas"),
        ({"matchers": '{"host": "web-1"}'}, b"A non-empty list"),
    ):
        response = admin_client.post("/admin/monitor/channel/add/", channel_form(**changes))
        assert response.status_code == 200 and problem in response.content, changes
    assert not Channel.objects.exists()
    assert admin_client.post("/admin/monitor/channel/add/", channel_form()).status_code == 302
    email = channel_form(name="mail", kind="email", target="ops@example.com, dba@example.com")
    assert admin_client.post("/admin/monitor/channel/add/", email).status_code == 302


def test_a_silence_stored_around_the_checks_mutes_nothing_and_breaks_nothing():
    from monitor.alerts.matchers import is_silenced

    now = timezone.now()
    bad = Silence.objects.create(matchers={"host": "web-1"}, starts_at=now, ends_at=now + timedelta(hours=1))
    assert is_silenced({"host": "web-1", "alertname": "disk_x"}, [bad]) is False
