"""A worker killed in the middle of a collection: the task is redelivered and its cycle stored once.

No test hook in the app: the monitored MySQL server is a port that accepts and
never answers, so collect_server_status sits in collect_mysql for
MONITOR_COLLECT_TIMEOUT seconds, holding a connection to that port. That
connection is how the test knows the pool process is mid-collection, and is
when it kills that process with SIGKILL. The worker's main process survives,
rejects the message back to the queue (acks_late, task_reject_on_worker_lost)
and a fresh pool process runs it again.
"""

import psutil
import pytest

from db_django.celery import app as celery_app
from monitor.collection.tasks import collect_server_status
from monitor.models import CollectionCycle, Resource
from procs import broker_at, child_env, frozen_server, running, wait_for, worker_args
from servers import private_redis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.redis]

HOST = "faults-worker-kill"


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
