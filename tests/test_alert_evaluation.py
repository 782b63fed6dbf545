"""Evaluation reads the catalog and the rollups, steps each (rule, series) and writes changes with their events."""

import importlib
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


def test_pending_fires_once_for_seconds_have_passed_across_runs():
    rule(warning=85, for_seconds=60, lookup="last")
    now = timezone.now()
    feed("disk.used_percent:/", [90] * 10, end=now, every=10)
    assert evaluate(now).transitions == [("disk_full", "web-1", "ok", "pending")]
    assert evaluate(now + timedelta(seconds=30)).events == 0
    feed("disk.used_percent:/", [91], end=now + timedelta(seconds=60))
    assert evaluate(now + timedelta(seconds=61)).transitions == [("disk_full", "web-1", "pending", "warning")]
    alert = Alert.objects.get()
    assert alert.state == "warning" and alert.value == 91 and alert.pending_since is None


def test_escalation_and_hysteresis_through_real_rollups():
    rule(warning=85, warning_clear=80, critical=95, critical_clear=90, lookup="last", window=120)
    now = timezone.now()
    states = []
    for i, value in enumerate([96, 92, 89, 82, 79]):
        at = now + timedelta(seconds=15 * i)
        feed("disk.used_percent:/", [value], end=at)
        evaluate(at)
        states.append(Alert.objects.get().state)
    assert states == ["critical", "critical", "warning", "warning", "ok"]
    assert [e[2] for e in events()] == ["critical", "warning", "ok"]


def test_a_silent_host_fires_the_shipped_host_not_reporting_rule_as_nodata():
    from django.apps import apps

    importlib.import_module("monitor.migrations.0014_default_rules").create(apps, None)
    AlertRule.objects.exclude(name="host_not_reporting").delete()
    now = timezone.now()
    feed("cpu.count", [4], host="web-1", end=now)
    feed("cpu.count", [4], host="web-2", end=now - timedelta(minutes=10))
    report = evaluate(now)
    assert report.transitions == [("host_not_reporting", "web-2", "ok", "nodata")]
    alert = Alert.objects.get()
    assert alert.summary == "web-2 has not reported for over 60 s" and alert.rule.inhibits_host
    feed("cpu.count", [4], host="web-2", end=now + timedelta(seconds=15))
    assert evaluate(now + timedelta(seconds=20)).transitions == [("host_not_reporting", "web-2", "nodata", "ok")]


def test_keep_firing_for_holds_through_evaluations():
    rule(warning=85, lookup="last", keep_firing_for=60, window=60)
    now = timezone.now()
    feed("disk.used_percent:/", [90], end=now)
    evaluate(now)
    feed("disk.used_percent:/", [50], end=now + timedelta(seconds=15))
    evaluate(now + timedelta(seconds=16))
    alert = Alert.objects.get()
    assert alert.state == "warning" and alert.cleared_since is not None
    feed("disk.used_percent:/", [50], end=now + timedelta(seconds=80))
    evaluate(now + timedelta(seconds=80))
    assert Alert.objects.get().state == "ok"


def test_prefix_host_pattern_and_label_globs_select_the_series():
    rule(name="net_errors", metric="net.*", host_pattern="db-*", match_labels={"interface": "eth*"}, warning=1)
    feed("net.rx_errors_per_second:eth0", [5], host="db-1")
    feed("net.rx_errors_per_second:lo", [5], host="db-1")
    feed("net.rx_errors_per_second:eth0", [5], host="web-1")
    feed("net.tx_errors_per_second:eth1", [5], host="db-2")
    evaluate()
    assert sorted(Alert.objects.values_list("host", "series_name")) == [
        ("db-1", "net.rx_errors_per_second:eth0"),
        ("db-2", "net.tx_errors_per_second:eth1"),
    ]


def test_an_alert_is_fingerprinted_by_rule_and_series():
    from monitor.alerts.evaluation import fingerprint

    r = rule(warning=85)
    feed("disk.used_percent:/", [90])
    evaluate()
    series = Series.objects.get()
    assert Alert.objects.get().fingerprint == fingerprint(r.id, series.key)


@pytest.mark.django_db(transaction=True)
def test_concurrent_evaluations_never_write_an_event_twice():
    import threading

    AlertRule.objects.all().delete()
    rule(warning=85)
    for n in range(20):
        feed("disk.used_percent:/", [90], host=f"h{n}")
    barrier = threading.Barrier(4)
    reports = []

    def run():
        from django.db import connection

        try:
            barrier.wait()
            reports.append(evaluate())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(reports) == 4
    assert sum(r.events for r in reports) == 20
    assert AlertEvent.objects.count() == 20 and Alert.objects.count() == 20
    print("concurrent runs:", [(r.skipped, r.conflict, r.events) for r in reports])
