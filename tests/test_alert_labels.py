"""An alert's labels (derived severity) and its summary template, which never raises."""

import pytest

from monitor.alerts.labels import alert_labels, base_labels, render_summary
from monitor.alerts.models import Alert, AlertRule

RULE = AlertRule(name="disk_full", warning=85, critical=95, labels={"team": "ops"}, window=300)
LABELS = base_labels(RULE, {"mount": "/"}, "web-1", "disk.used_percent")


def alert(state="warning", value=91.23456, pending_severity="") -> Alert:
    return Alert(
        rule=RULE,
        host="web-1",
        series_name="disk.used_percent:/",
        labels=LABELS,
        state=state,
        value=value,
        pending_severity=pending_severity,
    )


def test_labels_are_rule_then_series_then_identity_with_the_severity_derived():
    assert LABELS == {
        "team": "ops",
        "mount": "/",
        "alertname": "disk_full",
        "host": "web-1",
        "metric": "disk.used_percent",
    }
    assert alert_labels(alert("critical"))["severity"] == "critical"
    assert alert_labels(alert("nodata"))["severity"] == "critical"
    assert alert_labels(alert("pending", pending_severity="critical"))["severity"] == "critical"
    assert alert_labels(alert("ok"))["severity"] == "warning"


def test_a_series_label_cannot_override_the_identity_labels():
    labels = base_labels(RULE, {"host": "spoofed", "alertname": "x"}, "web-1", "m")
    assert labels["host"] == "web-1" and labels["alertname"] == "disk_full"


@pytest.mark.parametrize(
    "template, expected",
    [
        ("{mount} on {host} is {value}% full", "/ on web-1 is 91.23% full"),
        ("{value:.1f} > {threshold}", "91.2 > 85"),
        ("{team}/{severity}/{window}s", "ops/warning/300s"),
        ("{unknown} stays", "{unknown} stays"),
        ("{value:zz} {host}", "91.23 web-1"),
        ("{0} {a.b} {host} {", "{0} {a.b} web-1 {"),
        ("}{", "}{"),
        ("", "disk_full: disk.used_percent:/ on web-1 is 91.23"),
        ("{value:>4611686018427387904} on {host:>999999999}", "91.23 on web-1"),
        ("{value:.{mount}f}", "{value:./f}"),  # a spec never comes from a label
        ("{value:>8.1f}|", "    91.2|"),
    ],
)
def test_the_summary_fills_what_it_knows_and_never_raises(template, expected):
    rule = AlertRule(name="disk_full", warning=85, critical=95, labels={"team": "ops"}, window=300, summary=template)
    assert render_summary(rule, alert()) == expected


def test_no_data_reads_as_such():
    rule = AlertRule(name="quiet", summary="{host}: {value}", nodata="alert", window=60)
    assert render_summary(rule, alert("nodata", value=None)) == "web-1: no data"
