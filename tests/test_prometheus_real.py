"""Real Prometheus (Debian's 2.42) against us: it scrapes /monitor/metrics, and it remote-writes to us.

Both run as private processes on spare ports (tests/prometheus_servers.py)
against pytest-django's live server on the test database.
"""

import time

import pytest
from django.conf import settings as django_settings

from monitor.api.auth import issue_token
from monitor.collection.collectors import mysql as mysql_collector
from monitor.collection.tasks import host_collectors, store_cycle
from monitor.models import Sample, Series
from monitor.storage.inserts import Point
from monitor.storage.queries import select_series
from procs import wait_for
from prometheus_servers import private_node_exporter, private_prometheus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _latest(name: str, host: str) -> float:
    (row,) = select_series(name=name, host=host).latest_rows()
    return row.value


def test_prometheus_scrapes_our_cpu_and_a_mysql_gauge(live_server, mysql_url, tmp_path, settings):
    settings.HOST_STALE_AFTER = 3600
    server = mysql_collector.server_label(mysql_url)
    sources = [
        *host_collectors(),
        (("mysql", server), lambda previous, at: mysql_collector.collect_mysql(mysql_url, previous, 5.0)),
    ]
    store_cycle(sources)
    time.sleep(0.5)
    store_cycle(sources)  # rates (cpu.percent) need two cycles
    # A series pushed to us with Prometheus labels (remote write): scraped back with them unchanged.
    pushed = 'node_cpu_seconds_total{cpu="0",instance="db-1:9100",job="node",mode="idle"}'
    Sample.objects.store([Point(pushed, "db-1", int(time.time() * 1e6), 1234.5)])
    host = django_settings.MONITOR_HOSTNAME
    cpu = _latest("cpu.percent", host)
    max_connections = _latest(f"mysql.max_connections:{server}", host)
    port = live_server.url.rsplit(":", 1)[1]
    config = f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: db_django
    metrics_path: /monitor/metrics
    honor_labels: true
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
"""
    with private_prometheus(tmp_path, config) as prometheus:
        found = wait_for(lambda: prometheus.query("db_django_cpu_ratio"), 60, "our CPU in Prometheus", prometheus.log)
        gauge = wait_for(
            lambda: prometheus.query("db_django_mysql_max_connections"), 30, "the MySQL gauge", prometheus.log
        )
        (native,) = wait_for(lambda: prometheus.query("node_cpu_seconds_total"), 30, "the pushed series")
    (cpu_series,) = found
    assert cpu_series["metric"] == {
        "__name__": "db_django_cpu_ratio",
        "host": host,
        "instance": f"127.0.0.1:{port}",
        "job": "db_django",
    }
    assert float(cpu_series["value"][1]) == pytest.approx(cpu / 100)
    (mysql_series,) = gauge
    assert mysql_series["metric"]["server"] == server
    assert mysql_series["metric"]["host"] == host
    assert float(mysql_series["value"][1]) == max_connections
    assert native["metric"] == {
        "__name__": "node_cpu_seconds_total",
        "cpu": "0",
        "instance": "db-1:9100",
        "job": "node",
        "mode": "idle",
    }
    assert float(native["value"][1]) == 1234.5


def test_prometheus_remote_writes_node_exporter_series_to_us(live_server, tmp_path, settings, client):
    settings.API_REQUIRE_AUTH = True
    _, key = issue_token("prometheus", "write")
    with private_node_exporter(tmp_path) as node_port:
        config = f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ["127.0.0.1:{node_port}"]}}]
remote_write:
  - url: {live_server.url}/api/v1/write
    authorization: {{credentials: {key}}}
    queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}}
"""
        with private_prometheus(tmp_path, config) as prometheus:
            wait_for(
                lambda: (
                    Series.objects.filter(metric="node_load1").exists()
                    and Series.objects.filter(metric="node_cpu_seconds_total").count() >= 2
                ),
                90,
                "node_exporter's series written to us",
                prometheus.log,
            )
            log = prometheus.log.read_text()
    instance = f"127.0.0.1:{node_port}"
    load = Series.objects.get(metric="node_load1")
    assert (load.name, load.host, load.labels) == (
        f'node_load1{{instance="{instance}",job="node"}}',
        "127.0.0.1",
        {"instance": instance, "job": "node"},
    )
    cpu = Series.objects.filter(metric="node_cpu_seconds_total").first()
    assert set(cpu.labels) == {"cpu", "mode", "instance", "job"}
    assert "non-recoverable" not in log and "status 4" not in log, log[-3000:]

    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    latest = client.get("/monitor/resources/latest/", {"name_prefix": "node_load"}, **auth).json()
    assert [row["name"] for row in latest if row["name"] == load.name] == [load.name]
    series = client.get("/monitor/resources/series/", {"name": load.name, "host": "127.0.0.1", "step": "1s"}, **auth)
    assert series.status_code == 200 and series.json()["points"], series.content
