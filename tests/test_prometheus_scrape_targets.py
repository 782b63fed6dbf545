"""Scrape targets (SCRAPE_TARGETS): the workers read exporters' text exposition and store it with `up`."""

import pytest

from monitor.collection.collectors.prometheus import parse, scrape, target_host
from monitor.collection.schedule import SCRAPE, beat_schedule
from monitor.collection.tasks import scrape_targets
from monitor.models import Sample, Series
from procs import closed_port, frozen_server
from prometheus_servers import private_node_exporter

EXPOSITION = """# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.5
# HELP node_filesystem_avail_bytes Filesystem space available.
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/sda1",mountpoint="/"} 1.5e+10
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0.5"} NaN
go_gc_duration_seconds_sum 0.25
go_gc_duration_seconds_count 3
"""


def test_it_parses_the_text_exposition_keeping_names_and_labels():
    found = {s.name: (s.value, s.description) for s in parse(EXPOSITION, {"instance": "db-1:9100"})}
    assert found == {
        'node_load1{instance="db-1:9100"}': (0.5, "1m load average."),
        'node_filesystem_avail_bytes{device="/dev/sda1",instance="db-1:9100",mountpoint="/"}': (
            1.5e10,
            "Filesystem space available.",
        ),
        'go_gc_duration_seconds_sum{instance="db-1:9100"}': (0.25, ""),
        'go_gc_duration_seconds_count{instance="db-1:9100"}': (3.0, ""),
    }


def test_a_loopback_target_belongs_to_this_machine():
    assert target_host("http://127.0.0.1:9100/metrics", "web-1") == ("web-1", "127.0.0.1:9100")
    assert target_host("http://db-1:9104/metrics", "web-1") == ("db-1", "db-1:9104")
    assert target_host("http://[::1]:9100/metrics", "web-1") == ("web-1", "[::1]:9100")


def test_a_target_that_is_down_or_frozen_gives_up_0_within_the_timeout():
    dead = closed_port()
    down = scrape(f"http://127.0.0.1:{dead}/metrics", 1.0, "me")
    assert down.error
    assert {s.name: s.value for s in down.samples}[f'up{{instance="127.0.0.1:{dead}"}}'] == 0.0
    with frozen_server() as port:
        frozen = scrape(f"http://127.0.0.1:{port}/metrics", 0.5, "me")
    values = {s.name: s.value for s in frozen.samples}
    assert values[f'up{{instance="127.0.0.1:{port}"}}'] == 0.0
    assert values[f'scrape_duration_seconds{{instance="127.0.0.1:{port}"}}'] < 3


def test_the_schedule_has_the_scrape_only_with_targets():
    assert SCRAPE not in {entry["task"] for entry in beat_schedule(10).values()}
    assert beat_schedule(10, 10, 15)["scrape-targets"]["schedule"] == 15.0


@pytest.mark.django_db
def test_the_task_stores_a_real_node_exporter_with_up(tmp_path, settings):
    settings.MONITOR_HOSTNAME = "web-1"
    dead = closed_port()
    with private_node_exporter(tmp_path) as port:
        settings.SCRAPE_TARGETS = [f"http://127.0.0.1:{port}/metrics", f"http://127.0.0.1:{dead}/metrics"]
        settings.SCRAPE_TIMEOUT = 2.0
        stored = scrape_targets()
    assert stored > 100
    load = Series.objects.get(metric="node_load1")
    assert (load.host, load.labels) == ("web-1", {"instance": f"127.0.0.1:{port}"})
    up = dict(Series.objects.filter(metric="up").values_list("labels__instance", "id"))
    values = dict(Sample.objects.filter(series_id__in=up.values()).values_list("series_id", "value"))
    assert values[up[f"127.0.0.1:{port}"]] == 1.0
    assert values[up[f"127.0.0.1:{dead}"]] == 0.0
