"""A worker started again on the embedded broker takes up the host cycles of the one before.

Host collection goes to a broadcast exchange; on the filesystem broker every
worker reads one queue bound to it. A queue name made afresh by each worker
start left the previous worker's queue bound: every later cycle was copied into
it, where nothing reads it, and cycles sent while no worker ran were never read.
"""

import pytest

from db_django.celery import app as celery_app
from db_django.filesystem_broker import transport_options
from monitor.collection.tasks import collect_host_metrics
from monitor.models import CollectionCycle
from procs import child_env, running, wait_for, worker_args

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

HOST = "embedded-restart"


def send_host_cycle(options: dict) -> str:
    connection = celery_app.connection_for_write(
        "filesystem://", transport="db_django.filesystem_broker:Transport", transport_options=options
    )
    with connection as conn:
        return collect_host_metrics.apply_async(connection=conn).id


def test_a_worker_started_again_collects_the_cycles_sent_meanwhile_and_no_copy_piles_up(tmp_path):
    env = child_env(
        tmp_path, CELERY_BROKER_URL="filesystem://", MONITOR_HOSTNAME=HOST, MONITOR_MYSQL_URLS="", MONITOR_REDIS_URLS=""
    )
    options = transport_options(tmp_path / "broker")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with running(worker_args("first@testhost"), env, first_log):
        wait_for(lambda: "ready." in first_log.read_text(errors="replace"), 60, "the first worker", first_log)

    while_down = send_host_cycle(options)
    with running(worker_args("second@testhost"), env, second_log):
        wait_for(lambda: "ready." in second_log.read_text(errors="replace"), 60, "the second worker", second_log)
        wait_for(
            lambda: CollectionCycle.objects.filter(task_id=while_down, host=HOST).exists(),
            30,
            "the cycle sent while no worker ran",
            second_log,
        )
        later = send_host_cycle(options)
        wait_for(
            lambda: CollectionCycle.objects.filter(task_id=later, host=HOST).exists(), 30, "a later cycle", second_log
        )

    left = sorted(path.name for path in (tmp_path / "broker" / "queue").glob("*.msg"))
    assert left == [], "no queue keeps copies for a worker that is gone"
