"""/monitor/metrics: latest values of live series, Prometheus naming, filters, formats, read policy."""

import time

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from monitor.api.auth import issue_token
from monitor.exposition.naming import exposed
from monitor.models import Sample
from monitor.storage.inserts import Point

pytestmark = pytest.mark.django_db

URL = "/monitor/metrics"


def now_us() -> int:
    return int(time.time() * 1_000_000)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.parametrize(
    ("metric", "labels", "host", "name", "out_labels", "scale"),
    [
        ("cpu.percent", {}, "web-1", "db_django_cpu_ratio", {"host": "web-1"}, 0.01),
        ("cpu.iowait_percent", {}, "web-1", "db_django_cpu_iowait_ratio", {"host": "web-1"}, 0.01),
        ("disk.used_percent", {"mount": "/"}, "h", "db_django_disk_used_ratio", {"host": "h", "mount": "/"}, 0.01),
        ("disk.used_bytes", {"mount": "/"}, "h", "db_django_disk_used_bytes", {"host": "h", "mount": "/"}, 1),
        ("mysql.buffer_pool_hit_ratio", {"server": "s:3306"}, "h", "db_django_mysql_buffer_pool_hit_ratio",
         {"host": "h", "server": "s:3306"}, 0.01),
        ("redis.mem_fragmentation_ratio", {"server": "r:6379"}, "h", "db_django_redis_mem_fragmentation_ratio",
         {"host": "h", "server": "r:6379"}, 1),
        ("celery.tasks_failed_per_minute", {}, "h", "db_django_celery_tasks_failed_per_second", {"host": "h"}, 1 / 60),
        ("net.rx_bytes_per_second", {"interface": "eth0"}, "h", "db_django_net_rx_bytes_per_second",
         {"host": "h", "interface": "eth0"}, 1),
        ("load.1m", {}, "h", "db_django_load_1m", {"host": "h"}, 1),
        ("system.uptime_seconds", {}, "h", "db_django_system_uptime_seconds", {"host": "h"}, 1),
        ("CPU Usage", {}, "", "db_django_CPU_Usage", {}, 1),
        ("cpu.usage_idle", {"cpu": "cpu-total"}, "h", "db_django_cpu_usage_idle", {"cpu": "cpu-total", "host": "h"}, 1),
        ("node_load1", {"instance": "db-1:9100", "job": "node"}, "db-1", "node_load1",
         {"instance": "db-1:9100", "job": "node"}, 1),
        ("up", {"job": "federate"}, "db-1", "up", {"job": "federate", "host": "db-1"}, 1),
    ],
)  # fmt: skip
def test_names_follow_one_rule(metric, labels, host, name, out_labels, scale):
    out = exposed(metric, labels, host)
    assert (out.name, out.labels) == (name, out_labels)
    assert out.scale == pytest.approx(scale)


def test_it_serves_the_latest_value_of_each_live_series_in_base_units(client):
    t = now_us()
    Sample.objects.store(
        [
            Point("cpu.percent", "web-1", t - 20_000_000, 10.0),
            Point("cpu.percent", "web-1", t - 10_000_000, 37.5),
            Point("disk.used_bytes:/", "web-1", t, 2.5e9),
            Point('node_load1{instance="db-1:9100",job="node"}', "db-1", t, 0.25),
        ]
    )
    answer = client.get(URL)
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain; version=0.0.4")
    text = answer.content.decode()
    found = samples(text)
    assert found[("db_django_cpu_ratio", (("host", "web-1"),))] == 0.375
    assert found[("db_django_disk_used_bytes", (("host", "web-1"), ("mount", "/")))] == 2.5e9
    assert found[("node_load1", (("instance", "db-1:9100"), ("job", "node")))] == 0.25
    assert "# TYPE db_django_cpu_ratio gauge" in text
    timestamps = {s.timestamp for family in text_string_to_metric_families(text) for s in family.samples}
    assert timestamps == {None}


def test_series_past_the_stale_bound_are_left_out(client, settings):
    settings.HOST_STALE_AFTER = 30
    t = now_us()
    Sample.objects.store([Point("cpu.percent", "old", t - 31_000_000, 1.0), Point("cpu.percent", "new", t, 2.0)])
    found = samples(client.get(URL).content.decode())
    assert ("db_django_cpu_ratio", (("host", "new"),)) in found
    assert ("db_django_cpu_ratio", (("host", "old"),)) not in found


def test_filters_by_host_name_and_selector(client):
    t = now_us()
    Sample.objects.store(
        [
            Point("cpu.percent", "a", t, 1.0),
            Point("cpu.percent", "b", t, 2.0),
            Point("memory.used_bytes", "a", t, 3.0),
            Point('node_cpu_seconds_total{cpu="0",mode="idle"}', "a", t, 4.0),
            Point('node_cpu_seconds_total{cpu="0",mode="user"}', "a", t, 5.0),
        ]
    )
    by_host = samples(client.get(URL, {"host": "b"}).content.decode())
    assert by_host == {("db_django_cpu_ratio", (("host", "b"),)): 0.02}
    by_name = samples(client.get(URL, {"name": ["cpu.percent", "db_django_memory_used_bytes"]}).content.decode())
    assert set(by_name) == {
        ("db_django_cpu_ratio", (("host", "a"),)),
        ("db_django_cpu_ratio", (("host", "b"),)),
        ("db_django_memory_used_bytes", (("host", "a"),)),
    }
    selected = samples(client.get(URL, {"match[]": 'node_cpu_seconds_total{mode=~"id.*"}'}).content.decode())
    assert selected == {("node_cpu_seconds_total", (("cpu", "0"), ("host", "a"), ("mode", "idle"))): 4.0}
    bad = client.get(URL, {"match[]": "node{mode=idle}"})
    assert bad.status_code == 400 and "match[]" in bad.json()


def test_it_answers_openmetrics_when_asked(client):
    Sample.objects.store([Point("cpu.percent", "a", now_us(), 50.0), Point("node_boot_time_seconds", "a", now_us(), 9)])
    answer = client.get(URL, HTTP_ACCEPT="application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
    assert answer["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    text = answer.content.decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in openmetrics_families(text)}
    assert families["db_django_cpu_ratio"].samples[0].value == 0.5
    assert families["node_boot_time_seconds"].type == "unknown"


def test_the_app_counts_its_own_requests_and_ingest(client):
    client.get("/monitor/hosts/")
    client.post("/api/v2/write?precision=s", "m,host=h v=1 1795600800", content_type="text/plain")
    text = client.get(URL).content.decode()
    found = samples(text)
    hosts_requests = [v for (name, labels), v in found.items() if name == "db_django_http_requests_total"
                      and ("view", "hosts") in labels and ("code", "200") in labels]  # fmt: skip
    assert hosts_requests and hosts_requests[0] >= 1
    assert found[("db_django_ingest_samples_total", (("protocol", "line_protocol"),))] >= 1
    assert any(name == "db_django_http_request_duration_seconds_bucket" for name, _ in found)
    assert found[("db_django_host_last_seen_timestamp_seconds", (("host", "h"),))] == 1795600800


def test_the_folds_progress_is_exposed_where_the_rollups_are_folded_after_the_write(client, on_mysql):
    from monitor.models import FoldWatermark

    FoldWatermark.objects.update_or_create(id=1, defaults={"until_us": 1_795_600_800_000_000})
    found = samples(client.get(URL).content.decode())
    assert found[("db_django_rollups_folded_until_timestamp_seconds", ())] == 1795600800
    FoldWatermark.objects.filter(id=1).update(until_us=None)  # every write folds its own: nothing to watch
    assert not any(name.startswith("db_django_rollups") for name, _ in samples(client.get(URL).content.decode()))


def test_reads_follow_the_api_policy(client, settings):
    settings.API_REQUIRE_AUTH = True
    Sample.objects.store([Point("cpu.percent", "a", now_us(), 50.0)])
    assert client.get(URL).status_code == 401
    _, key = issue_token("prometheus", "read")
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    settings.API_PUBLIC_READS = True
    assert client.get(URL).status_code == 200


@pytest.mark.parametrize(
    ("selector", "selected"),
    [
        ('node_load1{job="node"}', True),
        ("node_load1{job='node'}", True),
        ("{job=`node`}", True),
        ('{__name__=~"node_.+",job!="other"}', True),
        ("{job='other'}", False),
    ],
)
def test_selectors_take_every_way_promql_writes_a_string(selector, selected):
    from monitor.exposition.selectors import parse_selector

    assert parse_selector(selector)("node_load1", {"job": "node"}) is selected


@pytest.mark.parametrize("selector", ['{job=""}', '{job=~".*"}', '{job!="x"}', "{}"])
def test_a_selector_that_would_match_every_series_is_refused_as_prometheus_does(selector):
    from monitor.exposition.selectors import parse_selector

    with pytest.raises(ValueError):
        parse_selector(selector)
