"""The dashboard lists firing alerts, most severe first, on the fleet view and on each host's page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.alerts.dashboard import active_alerts
from monitor.alerts.models import Alert, AlertRule
from samples import store

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerts():
    store("cpu.percent", 10, "web-1")
    store("cpu.percent", 10, "web-2")
    rule = AlertRule.objects.get(name="disk_nearly_full")
    now = timezone.now()
    for n, (host, state) in enumerate(
        [("web-1", "warning"), ("web-2", "critical"), ("web-1", "nodata"), ("web-2", "ok")]
    ):
        Alert.objects.create(
            rule=rule,
            fingerprint=f"{n:040d}",
            host=host,
            state=state,
            summary=f"summary {n} of {host}",
            firing_since=now - timedelta(minutes=n),
        )


def test_the_provider_returns_firing_alerts_critical_first_with_the_host_page(alerts):
    rows = active_alerts()
    assert [(r["host"], r["severity"]) for r in rows] == [
        ("web-1", "critical"),
        ("web-2", "critical"),
        ("web-1", "warning"),
    ]
    assert rows[0]["url"] == "/hosts/web-1/"
    assert rows[0]["name"] == "disk_nearly_full" and rows[0]["summary"] == "summary 2 of web-1"


def test_the_fleet_view_shows_them(client, alerts):
    html = client.get("/").content.decode()
    assert "alerts-title" in html and "summary 1 of web-2" in html and "summary 3 of web-2" not in html


def test_a_host_page_shows_only_its_own(client, alerts):
    html = client.get("/hosts/web-1/").content.decode()
    assert "summary 0 of web-1" in html and "summary 2 of web-1" in html
    assert "summary 1 of web-2" not in html


def test_an_alert_of_a_host_named_dot_dot_links_to_that_hosts_page(client):
    store("cpu.percent", 10, "..")
    rule = AlertRule.objects.get(name="disk_nearly_full")
    Alert.objects.create(rule=rule, fingerprint="9" * 40, host="..", state="critical", firing_since=timezone.now())
    (row,) = active_alerts()
    assert row["url"] == "/hosts/~../"  # a browser resolves /hosts/../ to the fleet
    page = client.get(row["url"])
    assert page.status_code == 200 and "<title>.. · db_django monitor</title>" in page.content.decode()
