"""The shipped alert rules (migration 0014) each watch a metric some collector really emits."""

import importlib
import time

import pytest
import redis

from monitor.alerts.models import AlertRule
from monitor.alerts.selection import Selector, glob_match
from monitor.collection.collectors.host import collect_host
from monitor.collection.collectors.mysql import _replication, collect_mysql
from monitor.collection.collectors.queue import collect_queue
from monitor.collection.collectors.redis import collect_redis
from monitor.storage.names import parse

defaults = importlib.import_module("monitor.migrations.0014_default_rules")


def metrics(samples) -> set[str]:
    return {parse(sample.name)[0] for sample in samples}


def rule_matches_some(rule: dict, emitted: set[str]) -> bool:
    metric = rule["metric"]
    return any(glob_match(metric, name) if metric.endswith("*") else metric == name for name in emitted)


@pytest.fixture
def maxmemory(redis_url: str):
    """A maxmemory on the tests' Redis (restored after): used_memory_percent exists only under a limit."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    before = client.config_get("maxmemory")["maxmemory"]
    client.config_set("maxmemory", 512 * 1024 * 1024)
    try:
        yield
    finally:
        client.config_set("maxmemory", before)
        client.close()


@pytest.mark.mysql
@pytest.mark.redis
def test_every_default_rule_watches_a_metric_a_collector_emits(mysql_url: str, redis_url: str, maxmemory) -> None:
    first = collect_host()
    time.sleep(0.5)  # CPU percentages need CPU time to pass between two readings
    emitted = metrics(first.samples) | metrics(collect_host(first.counters).samples)
    emitted |= metrics(collect_mysql(mysql_url).samples)
    replica_row = {"Seconds_Behind_Master": 3, "Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes"}
    emitted |= metrics(_replication(replica_row, "db2:3306"))  # a replica's figures: our server is a primary
    emitted |= metrics(collect_redis(redis_url).samples)
    emitted |= metrics(collect_queue({"w1@host": {"active": 1}}, {"celery": 4}).samples)

    missing = [rule["name"] for rule in defaults.default_rules(10) if not rule_matches_some(rule, emitted)]

    assert missing == []
    assert {"load.5m_per_cpu", "redis.used_memory_percent"} <= emitted


def test_host_not_reporting_waits_three_intervals_but_at_least_a_minute() -> None:
    windows = {
        n: {r["name"]: r for r in defaults.default_rules(n)}["host_not_reporting"]["window"] for n in (1, 10, 60)
    }
    assert windows == {1: 60, 10: 60, 60: 180}


@pytest.mark.django_db
def test_the_first_migrate_created_them_valid_and_enabled() -> None:
    from monitor.api.alert_serializers import AlertRuleSerializer

    names = [rule["name"] for rule in defaults.default_rules(10)]
    stored = AlertRule.objects.filter(name__in=names)
    assert sorted(stored.values_list("name", flat=True)) == sorted(names)
    for rule in stored:
        serializer = AlertRuleSerializer(rule, data=AlertRuleSerializer(rule).data)
        assert serializer.is_valid(), (rule.name, serializer.errors)
        assert rule.enabled


@pytest.mark.django_db
def test_the_creation_keeps_edited_rules_and_only_adds_missing_names() -> None:
    from django.apps import apps

    AlertRule.objects.filter(name="swap_heavy").delete()
    AlertRule.objects.filter(name="disk_nearly_full").update(warning=70)
    defaults.create(apps, None)
    assert AlertRule.objects.get(name="disk_nearly_full").warning == 70
    # create() is what the migration runs once; run again it only adds what is missing by name
    assert AlertRule.objects.filter(name="swap_heavy").count() == 1


def test_the_selector_picks_the_series_of_each_default_rule() -> None:
    from monitor.alerts.selection import CatalogSeries

    catalog = [
        CatalogSeries(1, "k1", "disk.used_percent:/", "disk.used_percent", "web-1", {"mount": "/"}),
        CatalogSeries(2, "k2", "mysql.up:db:3306", "mysql.up", "web-1", {"server": "db:3306"}),
        CatalogSeries(3, "k3", "cpu.count", "cpu.count", "web-2", {}),
    ]
    selector = Selector(catalog)
    chosen = {rule["name"]: [s.id for s in selector.select(AlertRule(**rule))] for rule in defaults.default_rules(10)}
    assert chosen["disk_nearly_full"] == [1]
    assert chosen["mysql_down"] == [2]
    assert chosen["host_not_reporting"] == [3]
