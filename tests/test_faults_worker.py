"""A worker killed in the middle of a collection: the task is redelivered and its cycle stored once.

No test hook in the app: the monitored MySQL server is a port that accepts and
never answers, so collect_server_status sits in collect_mysql for
MONITOR_COLLECT_TIMEOUT seconds, holding a connection to that port. That
connection is how the test knows a pool process is mid-collection, and is when
it kills that process with SIGKILL. When only the pool process dies, the
worker's main process rejects the message back to the queue (acks_late,
task_reject_on_worker_lost) and a fresh pool process runs it again. When the
whole worker dies, the message stays unacknowledged in Redis until the
visibility timeout, which follows the schedule so the next worker runs the
cycle before it expires (db_django/settings.py).
"""

import os
import signal
import time
from datetime import timedelta

import psutil
import pytest
from django.utils import timezone

from db_django.celery import app as celery_app
from monitor.collection.schedule import beat_schedule
from monitor.collection.tasks import collect_host_metrics, collect_server_status, prune_old_resources
from monitor.models import CollectionCycle, Resource
from monitor.storage import partitions
from procs import broker_at, child_env, frozen_server, running, wait_for, worker_args
from samples import point, store_many
from servers import private_redis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.redis]

HOST = "faults-worker-kill"
# These workers run only the tasks a test sends them: no host cycles of their own to
# tell apart from the one under test (monitor/collection/host_timer.py).
NO_HOST_TIMER = "0"


def collecting_child(worker: psutil.Process, port: int) -> psutil.Process | None:
    """The worker's pool process that holds a connection to `port`, if any."""
    for child in worker.children():
        try:
            if any(c.raddr and c.raddr.port == port for c in child.net_connections(kind="tcp")):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_task_whose_worker_dies_mid_collection_is_redelivered_and_stored_once(tmp_path):
    log = tmp_path / "worker.log"
    # A private Redis: a worker of another test run on a shared database could take the task.
    with private_redis(tmp_path) as redis, frozen_server() as mysql_port, broker_at(redis.url()):
        env = child_env(
            tmp_path,
            CELERY_BROKER_URL=redis.url(),
            MONITOR_HOSTNAME=HOST,
            MONITOR_HOST_TIMER=NO_HOST_TIMER,
            MONITOR_MYSQL_URLS=f"mysql://root@127.0.0.1:{mysql_port}/",
            MONITOR_REDIS_URLS="",
            MONITOR_COLLECT_TIMEOUT="5",
        )
        with running(worker_args("killed@testhost"), env, log) as worker:
            wait_for(lambda: "ready." in log.read_text(errors="replace"), 60, "the worker to start", log)
            with celery_app.connection_for_write() as conn:
                task_id = collect_server_status.apply_async(connection=conn).id

            main = psutil.Process(worker.pid)
            child = wait_for(lambda: collecting_child(main, mysql_port), 30, "a pool process in collect_mysql", log)
            child.kill()
            wait_for(lambda: gone(child), 10, "the pool process to die")
            assert not CollectionCycle.objects.filter(task_id=task_id).exists(), "killed before storing"

            wait_for(
                lambda: f"[{task_id}] succeeded" in log.read_text(errors="replace"), 60, "the redelivered run", log
            )
            assert worker.poll() is None, "the worker's main process survives the loss of a pool process"

    text = log.read_text(errors="replace")
    assert "WorkerLostError" in text
    assert text.count(f"collect_server_status[{task_id}] received") == 2, "received once, then redelivered"
    assert text.count(f"[{task_id}] succeeded") == 1

    cycle = CollectionCycle.objects.get(task_id=task_id)
    assert cycle.host == HOST and cycle.rows > 0
    stored = Resource.objects.filter(host=HOST)
    # Every row of the cycle shares its timestamp; nothing else was stored for this host.
    assert stored.filter(timestamp=cycle.stored_at).count() == cycle.rows
    assert stored.count() == cycle.rows
    down = stored.get(name=f"mysql.up:127.0.0.1:{mysql_port}")
    assert down.value == 0.0


# The next worker's SERVER_METRICS_INTERVAL: a cycle expires 15 s after beat sends it,
# and the visibility timeout follows (7.5 s, swept every 2.5 s).
SERVER_INTERVAL = 5


def kill_whole_worker(worker) -> list[psutil.Process]:
    """SIGKILL the worker's main process and every pool process at once, as the OOM killer or a power cut would."""
    main = psutil.Process(worker.pid)
    everyone = [main, *main.children(recursive=True)]
    os.killpg(worker.pid, signal.SIGKILL)
    wait_for(lambda: all(gone(p) for p in everyone), 10, "the whole worker to die")
    return everyone


def log_of(path) -> str:
    return path.read_text(errors="replace")


def kill_worker_mid_cycle(tmp_path, redis_url: str, mysql_port: int, expires: float) -> tuple[str, float]:
    """Send a server-status cycle, SIGKILL the whole worker while it collects; its task id and when it was sent."""
    log = tmp_path / "killed.log"
    with running(worker_args("killed@testhost"), worker_env(tmp_path, redis_url, mysql_port), log) as worker:
        wait_for(lambda: "ready." in log_of(log), 60, "the worker to start", log)
        with celery_app.connection_for_write() as conn:
            sent = time.monotonic()
            task_id = collect_server_status.apply_async(connection=conn, expires=expires).id
        wait_for(lambda: collecting_child(psutil.Process(worker.pid), mysql_port), 30, "a pool process mid-cycle", log)
        kill_whole_worker(worker)
    assert log_of(log).count(f"[{task_id}] received") == 1
    assert not CollectionCycle.objects.filter(task_id=task_id).exists(), "killed before storing"
    return task_id, sent


def worker_env(tmp_path, redis_url: str, mysql_port: int, **extra: str) -> dict:
    return child_env(
        tmp_path,
        CELERY_BROKER_URL=redis_url,
        MONITOR_HOSTNAME=HOST,
        MONITOR_HOST_TIMER=NO_HOST_TIMER,
        MONITOR_MYSQL_URLS=f"mysql://root@127.0.0.1:{mysql_port}/",
        MONITOR_REDIS_URLS="",
        MONITOR_COLLECT_TIMEOUT="2",
        SERVER_METRICS_INTERVAL=str(SERVER_INTERVAL),
        **extra,
    )


def test_a_cycle_whose_whole_worker_is_killed_is_run_by_the_next_worker_before_it_expires(tmp_path):
    expires = beat_schedule(SERVER_INTERVAL)["collect-server-status"]["options"]["expires"]  # as beat sends it
    log = tmp_path / "next.log"
    with private_redis(tmp_path) as redis, frozen_server() as mysql_port, broker_at(redis.url()):
        task_id, sent = kill_worker_mid_cycle(tmp_path, redis.url(), mysql_port, expires)
        with running(worker_args("next@testhost"), worker_env(tmp_path, redis.url(), mysql_port), log):
            wait_for(lambda: f"[{task_id}] succeeded" in log_of(log), expires + 15, "the cycle, redelivered", log)
            ran_after = time.monotonic() - sent
            time.sleep(3)  # a second redelivery would show within a sweep

    text = log_of(log)
    assert text.count(f"[{task_id}] received") == 1, "redelivered once"
    assert text.count(f"[{task_id}] succeeded") == 1
    assert ran_after < expires + 2, f"redelivered after {ran_after:.1f} s, the cycle expires after {expires:g} s"
    cycle = CollectionCycle.objects.get(task_id=task_id)
    stored = Resource.objects.filter(host=HOST)
    assert stored.count() == cycle.rows > 0, "stored once"
    assert stored.get(name=f"mysql.up:127.0.0.1:{mysql_port}").value == 0.0


def test_a_cycle_redelivered_after_it_expired_is_dropped_not_run(tmp_path):
    log = tmp_path / "next.log"
    with private_redis(tmp_path) as redis, frozen_server() as mysql_port, broker_at(redis.url()):
        # Expires before the visibility timeout (7.5 s) runs out: it comes back too late.
        task_id, _ = kill_worker_mid_cycle(tmp_path, redis.url(), mysql_port, expires=3)
        with running(worker_args("next@testhost"), worker_env(tmp_path, redis.url(), mysql_port), log):
            wait_for(
                lambda: f"revoked task: monitor.collection.tasks.collect_server_status[{task_id}]" in log_of(log),
                30,
                "the expired cycle to be discarded",
                log,
            )

    assert f"[{task_id}] succeeded" not in log_of(log)
    assert not CollectionCycle.objects.filter(task_id=task_id).exists()
    assert not Resource.objects.filter(host=HOST).exists()


def test_a_prune_that_outlasts_the_visibility_timeout_runs_once(tmp_path):
    # A long prune is one that deletes row by row: on partitioned MySQL tables it
    # drops whole partitions and is never long (tests/test_retention.py).
    if partitions.is_partitioned(partitions.RAW):
        pytest.skip("partitioned: retention drops whole partitions, in milliseconds")
    old = timezone.now() - timedelta(days=40)
    store_many(point(f"old.sample.{i}", i, host=HOST, timestamp=old) for i in range(80))
    log = tmp_path / "worker.log"
    with private_redis(tmp_path) as redis, broker_at(redis.url()):
        env = child_env(
            tmp_path,
            CELERY_BROKER_URL=redis.url(),
            CELERY_BROKER_VISIBILITY_TIMEOUT="1",
            RETENTION_BATCH_SIZE="1",  # 80 batches with a pause after each: several seconds
        )
        with running(worker_args("pruner@testhost", "--concurrency", "2"), env, log):
            wait_for(lambda: "ready." in log_of(log), 60, "the worker to start", log)
            with celery_app.connection_for_write() as conn:
                task_id = prune_old_resources.apply_async(connection=conn).id
            wait_for(lambda: f"[{task_id}] succeeded" in log_of(log), 60, "the prune", log)
            time.sleep(2)  # a redelivered copy would be received within a sweep

    text = log_of(log)
    assert text.count(f"[{task_id}] received") == 1, "not redelivered while it ran"
    assert text.count(f"[{task_id}] succeeded") == 1
    assert "pruned 80 rows" in text
    assert not Resource.objects.filter(host=HOST).exists()


def test_a_host_cycle_held_past_the_visibility_timeout_runs_once_and_leaves_no_copy_in_redis(tmp_path):
    import redis as redis_py

    log = tmp_path / "worker.log"
    with private_redis(tmp_path) as redis, frozen_server() as mysql_port, broker_at(redis.url()):
        # One pool slot, taken by a server cycle stuck on the frozen MySQL for 4 s; the host cycle waits behind it.
        env = worker_env(tmp_path, redis.url(), mysql_port, CELERY_BROKER_VISIBILITY_TIMEOUT="1")
        env["MONITOR_COLLECT_TIMEOUT"] = "4"
        with running(worker_args("busy@testhost"), env, log) as worker:
            wait_for(lambda: "ready." in log_of(log), 60, "the worker to start", log)
            with celery_app.connection_for_write() as conn:
                server_id = collect_server_status.apply_async(connection=conn, expires=6).id
                wait_for(lambda: collecting_child(psutil.Process(worker.pid), mysql_port), 30, "the slot taken", log)
                host_id = collect_host_metrics.apply_async(connection=conn).id
            wait_for(lambda: f"[{host_id}] succeeded" in log_of(log), 30, "the host cycle", log)
            time.sleep(1)
            # While the worker runs: at a warm shutdown it deletes its own broadcast queue.
            client = redis_py.Redis.from_url(redis.url())
            lists = {key: client.llen(key) for key in client.scan_iter("bcast.*") if client.type(key) == b"list"}

    # Restored, a broadcast would be pushed into lists named after each worker's
    # broadcast queue, which workers never read (they subscribe): kept forever.
    assert lists == {}, "no copy of a broadcast parked where nothing reads it"
    assert log_of(log).count(f"[{host_id}] succeeded") == 1
    assert f"[{server_id}] succeeded" in log_of(log)
    assert CollectionCycle.objects.filter(task_id=host_id, host=HOST).count() == 1
