"""A real worker and beat on a real broker store host metrics in the database."""

import pytest

from monitor.models import Resource
from procs import beat_args, child_env, running, wait_for, worker_args

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def collected_names(host: str) -> set[str]:
    return set(Resource.objects.filter(host=host).values_list("name", flat=True).distinct())


@pytest.mark.redis
def test_worker_and_beat_on_redis_store_host_metrics(redis_url, tmp_path):
    host = "e2e-redis-host"
    env = child_env(tmp_path, CELERY_BROKER_URL=redis_url, METRICS_INTERVAL="1", MONITOR_HOSTNAME=host)
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    with running(worker_args("e2e@testhost"), env, worker_log), running(beat_args(tmp_path), env, beat_log):
        # Rates need two cycles; wait until one cycle has stored them.
        names = wait_for(
            lambda: (n := collected_names(host)) and "cpu.percent" in n and n, 45, "host rows with rates", worker_log
        )
    assert {"memory.used_percent", "load.1m", "processes.total", "system.uptime_seconds"} <= names
    assert any(name.startswith("disk.used_percent:") for name in names)
    # One cycle = one timestamp shared by all its rows (one bulk insert).
    first = Resource.objects.filter(host=host, name="memory.used_percent").order_by("id").first()
    assert Resource.objects.filter(host=host, timestamp=first.timestamp).count() >= 15


@pytest.mark.redis
def test_the_server_collector_stores_mysql_and_redis_status_when_mysql_is_the_database(redis_url, tmp_path, on_mysql):
    host = "e2e-servers-host"
    env = child_env(tmp_path, CELERY_BROKER_URL=redis_url, METRICS_INTERVAL="1", MONITOR_HOSTNAME=host)
    log = tmp_path / "worker.log"
    with running(worker_args("servers@testhost"), env, log), running(beat_args(tmp_path), env, tmp_path / "b.log"):
        names = wait_for(
            lambda: (n := collected_names(host)) and any(x.startswith("mysql.threads_connected:") for x in n) and n,
            45,
            "mysql status rows",
            log,
        )
    assert any(name.startswith("mysql.up:") for name in names)
    assert any(name.startswith("redis.up:") for name in names)


def test_the_embedded_filesystem_broker_runs_worker_and_beat(tmp_path):
    host = "e2e-embedded-host"
    env = child_env(tmp_path, CELERY_BROKER_URL="filesystem://", METRICS_INTERVAL="1", MONITOR_HOSTNAME=host)
    log = tmp_path / "worker.log"
    with running(worker_args("embedded@testhost"), env, log), running(beat_args(tmp_path), env, tmp_path / "b.log"):
        names = wait_for(
            lambda: (n := collected_names(host)) and "memory.used_percent" in n and n, 45, "host rows", log
        )
    assert "memory.used_percent" in names
