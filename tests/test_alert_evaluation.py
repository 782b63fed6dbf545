"""Evaluation reads the catalog and the rollups, steps each (rule, series) and writes changes with their events."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.alerts.evaluation import evaluate
from monitor.alerts.lease import evaluator_lease
from monitor.alerts.models import Alert, AlertEvent, AlertRule
from monitor.models import Rollup, Series
from samples import point, store_many

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def only_the_tests_rules():
    """The shipped rules (migration 0014) would fire on these samples too."""
    AlertRule.objects.all().delete()


def rule(**fields) -> AlertRule:
    defaults = {"name": "disk_full", "metric": "disk.used_percent", "lookup": "avg", "window": 300}
    return AlertRule.objects.create(**{**defaults, **fields})


def feed(name: str, values: list[float], host: str = "web-1", end=None, every: int = 20) -> None:
    """Store `values` ending at `end` (default now), `every` seconds apart, through the real write path."""
    end = end or timezone.now()
    start = end - timedelta(seconds=every * (len(values) - 1))
    store_many(point(name, v, host, start + timedelta(seconds=every * i)) for i, v in enumerate(values))


def events() -> list[tuple[str, str, str]]:
    return list(AlertEvent.objects.values_list("host", "from_state", "to_state"))


def test_a_series_past_its_threshold_fires_with_one_event_and_labels():
    rule(warning=85, warning_clear=80, critical=95, critical_clear=90, labels={"team": "ops"})
    feed("disk.used_percent:/", [88, 89, 90])
    feed("disk.used_percent:/", [10, 10, 10], host="web-2")
    report = evaluate()
    assert report.created == 1 and report.events == 1
    alert = Alert.objects.get()
    assert (alert.state, alert.host, alert.series_name) == ("warning", "web-1", "disk.used_percent:/")
    assert alert.value == pytest.approx(89)
    assert alert.labels == {
        "team": "ops",
        "mount": "/",
        "alertname": "disk_full",
        "host": "web-1",
        "metric": "disk.used_percent",
    }
    assert events() == [("web-1", "ok", "warning")]
    event = AlertEvent.objects.get()
    assert event.labels["severity"] == "warning" and event.alert_id == alert.id


def test_a_second_run_without_change_writes_no_event():
    rule(warning=85)
    feed("disk.used_percent:/", [90, 90])
    evaluate()
    report = evaluate()
    assert report.events == 0 and report.refreshed == 0
    assert len(events()) == 1


def test_the_lookup_reads_rollups_not_raw_samples():
    rule(warning=85, lookup="max")
    feed("disk.used_percent:/", [50, 99, 50])
    # raw samples gone: the rollups alone decide
    from monitor.models import Sample

    Sample.objects.all().delete()
    evaluate()
    assert Alert.objects.get().value == 99


def test_a_second_evaluator_skips_while_the_first_holds_the_lease():
    rule(warning=85)
    feed("disk.used_percent:/", [90])
    with evaluator_lease(60) as held:
        assert held
        report = evaluate()
    assert report.skipped
    assert events() == []
    assert evaluate().events == 1


def test_a_deleted_series_resolves_its_alert():
    rule(warning=85)
    feed("disk.used_percent:/", [90])
    evaluate()
    series = Series.objects.get()
    Rollup.objects.filter(series_id=series.id).delete()
    series.delete()
    report = evaluate()
    assert events() == [("web-1", "ok", "warning"), ("web-1", "warning", "ok")]
    assert report.changed == 1
    assert Alert.objects.get().state == "ok"


def test_a_disabled_rule_resolves_its_alerts():
    r = rule(warning=85)
    feed("disk.used_percent:/", [90])
    evaluate()
    r.enabled = False
    r.save()
    evaluate()
    assert events()[-1] == ("web-1", "warning", "ok")


def test_query_count_does_not_grow_with_the_number_of_series(django_assert_max_num_queries):
    rule(warning=85)
    rule(name="cpu_hot", metric="cpu.percent", warning=90, lookup="max", window=600)
    rule(name="load_last", metric="load.5m", warning=4, lookup="last", window=60)
    rule(name="not_reporting", metric="cpu.count", nodata="alert", window=60)
    for n in range(60):
        feed("disk.used_percent:/", [90], host=f"h{n:02d}")
        feed("cpu.percent", [95], host=f"h{n:02d}")
        feed("load.5m", [1], host=f"h{n:02d}")
    feed("cpu.count", [4], host="h00", end=timezone.now() - timedelta(seconds=600))
    # lease (3) + rules + catalog + latest + 2 windows + alerts + writes (bulk insert, ids, events) + savepoints
    with django_assert_max_num_queries(16):
        report = evaluate()
    assert report.created == 121 and report.events == 121
    # steady state: reads only (lease 3, rules, catalog, latest, 2 windows, alerts)
    with django_assert_max_num_queries(10):
        assert evaluate().events == 0
