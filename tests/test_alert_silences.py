"""Silences (Alertmanager's matcher semantics, active window) and host inhibition decide what stays quiet."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alert_receivers import alert, fire, rule
from monitor.alerts.matchers import INHIBITED, SILENCED, is_silenced, labels_match, muted_alerts
from monitor.alerts.models import Alert, AlertState, Silence

LABELS = {"alertname": "disk_nearly_full", "host": "db-1", "mount": "/var", "severity": "critical"}

pytestmark = pytest.mark.usefixtures("without_shipped_rules")


def m(name, value, regex=False):
    return {"name": name, "value": value, "regex": regex}


def test_every_matcher_must_match():
    assert labels_match([m("host", "db-1"), m("alertname", "disk_nearly_full")], LABELS)
    assert not labels_match([m("host", "db-1"), m("alertname", "cpu_busy")], LABELS)


def test_a_regex_matches_the_whole_value_only():
    assert labels_match([m("host", "db-.*", True)], LABELS)
    assert not labels_match([m("host", "db", True)], LABELS), "full match, not search"
    assert labels_match([m("mount", "/|/var", True)], LABELS)


def test_an_absent_label_is_the_empty_string():
    assert labels_match([m("team", "")], LABELS)
    assert labels_match([m("team", ".*", True)], LABELS)
    assert not labels_match([m("team", ".+", True)], LABELS)


def test_a_broken_regex_matches_nothing():
    assert not labels_match([m("host", "db-(", True)], LABELS)


def test_a_silence_without_matchers_silences_nothing():
    assert not is_silenced(LABELS, [Silence(matchers=[], ends_at=timezone.now())])
    assert is_silenced(LABELS, [Silence(matchers=[m("host", "db-1")], ends_at=timezone.now())])


@pytest.mark.django_db
def test_a_silence_counts_from_starts_at_until_before_ends_at():
    now = timezone.now()
    row = alert(rule("disk_nearly_full", metric="disk.used_percent"), "db-1", mount="/var")
    fire(row, now, AlertState.CRITICAL)
    Silence.objects.create(
        matchers=[m("host", "db-1")], starts_at=now, ends_at=now + timedelta(hours=1), created_by="ops", comment="disk"
    )
    alerts = list(Alert.objects.select_related("rule"))
    assert muted_alerts(alerts, now - timedelta(seconds=1)) == {}
    assert muted_alerts(alerts, now) == {row.fingerprint: SILENCED}
    assert muted_alerts(alerts, now + timedelta(hours=1)) == {}


@pytest.mark.django_db
def test_a_host_that_stopped_reporting_mutes_its_other_alerts_but_not_itself():
    now = timezone.now()
    down = alert(rule("host_not_reporting", metric="host.seen", inhibits_host=True), "db-1")
    disk = alert(rule("disk_nearly_full", metric="disk.used_percent"), "db-1", mount="/")
    other = alert(disk.rule, "db-2", mount="/")
    for row in (disk, other):
        fire(row, now, AlertState.NODATA, None)
    alerts = list(Alert.objects.select_related("rule"))
    assert muted_alerts(alerts, now) == {}, "nothing inhibits while the host reports"

    fire(down, now, AlertState.CRITICAL, None)
    alerts = list(Alert.objects.select_related("rule"))
    assert muted_alerts(alerts, now) == {disk.fingerprint: INHIBITED}


def test_a_pattern_with_catastrophic_backtracking_matches_in_linear_time():
    import time

    from monitor.alerts.matchers import matcher_matches

    started = time.monotonic()
    assert not matcher_matches({"name": "host", "value": "(a|aa)+b", "regex": True}, {"host": "a" * 5000})
    assert time.monotonic() - started < 0.5  # Python's re takes minutes from ~40 characters on


def test_a_pattern_re2_cannot_run_is_refused_as_alertmanager_refuses_it(client):
    from datetime import timedelta

    from django.utils import timezone

    silence = {
        "matchers": [{"name": "host", "value": r"(a)\1", "regex": True}],
        "ends_at": (timezone.now() + timedelta(hours=1)).isoformat(),
        "comment": "backreference",
    }
    response = client.post("/monitor/alerts/silences/", silence, content_type="application/json")
    assert response.status_code == 400 and "not a regular expression" in str(response.json())
