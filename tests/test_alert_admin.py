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
