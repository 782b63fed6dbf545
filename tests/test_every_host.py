"""Host collection reaches every worker; a down server is data, not an outage."""

import pytest

from monitor.models import Host, Resource
from procs import beat_args, child_env, closed_port, running, wait_for, worker_args

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.redis]


def test_two_named_workers_each_store_rows_for_their_own_host(redis_url, tmp_path):
    base = {"CELERY_BROKER_URL": redis_url, "METRICS_INTERVAL": "1", "MONITOR_MYSQL_URLS": "", "MONITOR_REDIS_URLS": ""}
    env_a = child_env(tmp_path, MONITOR_HOSTNAME="hostA", **base)
    env_b = child_env(tmp_path, MONITOR_HOSTNAME="hostB", **base)
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    with (
        running(worker_args("a@hostA"), env_a, log_a),
        running(worker_args("b@hostB"), env_b, log_b),
        running(beat_args(tmp_path), env_a, tmp_path / "beat.log"),
    ):
        wait_for(
            lambda: (
                {"hostA", "hostB"}
                <= set(Resource.objects.filter(name="memory.used_percent").values_list("host", flat=True))
            ),
            45,
            "host rows from both workers",
            log_b,
        )
    assert {"hostA", "hostB"} <= set(Host.objects.values_list("name", flat=True))


def test_a_stopped_mysql_target_yields_up_zero_while_host_rows_keep_arriving(redis_url, tmp_path):
    port = closed_port()
    env = child_env(
        tmp_path,
        CELERY_BROKER_URL=redis_url,
        METRICS_INTERVAL="1",
        MONITOR_HOSTNAME="with-dead-mysql",
        MONITOR_MYSQL_URLS=f"mysql://monitor:x@127.0.0.1:{port}/",
        MONITOR_COLLECT_TIMEOUT="1",
    )
    log = tmp_path / "worker.log"
    with running(worker_args("dead@mysql"), env, log), running(beat_args(tmp_path), env, tmp_path / "beat.log"):
        wait_for(
            lambda: (
                Resource.objects.filter(name=f"mysql.up:127.0.0.1:{port}").count() >= 2
                and Resource.objects.filter(host="with-dead-mysql", name="memory.used_percent").count() >= 2
            ),
            45,
            "up=0 rows and host rows",
            log,
        )
    assert set(Resource.objects.filter(name=f"mysql.up:127.0.0.1:{port}").values_list("value", flat=True)) == {0.0}
    # The same cycles still stored the queue collector's samples.
    assert Resource.objects.filter(host="with-dead-mysql", name="celery.broker_up", value=1.0).exists()
    assert "WARNING" in log.read_text() and str(port) in log.read_text()
