"""Redis stops, or freezes: the API serves on, status and health say so in time, queuing fails fast,
and worker and beat resume collecting on their own when Redis is back.

The Redis is a private one (tests/servers.py) on a spare port: a real worker and
beat use it as their broker, and so does this process's Celery app (the web
side, driven through the test client). Stopped means the process is gone
(connections refused); frozen means SIGSTOP (the kernel accepts connections,
nothing ever answers).
"""

import time

import pytest
from django.utils import timezone

from monitor.models import CollectionCycle, Resource
from procs import beat_args, broker_at, child_env, running, wait_for, worker_args
from servers import RedisServer, private_redis, timed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.redis]

BUDGET = 1.5  # what README promises for /monitor/application/ and /monitor/health/
# The status endpoint asking the workers now, not reading their last cycle's report.
ASK_WORKERS = "/monitor/application/?fresh=1"

# fault: (break, repair, the broker state the status endpoint reports meanwhile, seconds down).
# Several one-second cycles either way, so a task is nearly always running, and
# not yet acknowledged (acks_late), when Redis goes: the case a worker must
# survive. A freeze outlasts the broker socket timeout (CELERY_BROKER_SOCKET_TIMEOUT,
# 5 s), as a real hang would.
FAULTS = {
    "stopped": (RedisServer.stop, RedisServer.start, "unreachable", 5.0),
    "frozen": (RedisServer.freeze, RedisServer.thaw, "timeout", 12.0),
}


def collected_since(host: str, since) -> set[str]:
    """Names stored for `host` from `since` on, by both collection tasks (host and servers)."""
    rows = Resource.objects.filter(host=host, timestamp__gte=since)
    names = set(rows.values_list("name", flat=True))
    broker_up = rows.filter(name="celery.broker_up", value=1.0).exists()
    return names if "memory.used_percent" in names and broker_up else set()


@pytest.mark.parametrize("fault", FAULTS)
def test_the_api_rides_out_a_redis_outage_and_collection_resumes_by_itself(fault, client, tmp_path):
    break_redis, repair_redis, broker_state, outage = FAULTS[fault]
    host = f"faults-redis-{fault}"
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    with private_redis(tmp_path) as redis, broker_at(redis.url()):
        env = child_env(tmp_path, CELERY_BROKER_URL=redis.url(), METRICS_INTERVAL="1", MONITOR_HOSTNAME=host)
        with (
            running(worker_args(f"{fault}@testhost"), env, worker_log) as worker,
            running(beat_args(tmp_path), env, beat_log) as beat,
        ):

            def collecting_since(since) -> set[str]:
                # A dead worker or beat cannot resume: fail at once, with its log.
                for proc, log in ((worker, worker_log), (beat, beat_log)):
                    assert proc.poll() is None, f"exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
                return collected_since(host, since)

            started = timezone.now()
            wait_for(lambda: collecting_since(started), 90, "a first collection cycle", worker_log)
            # Health's worker check reads the cycles workers store; a fresh one of our own
            # keeps it ok whatever this test's worker is doing.
            CollectionCycle.objects.create(task_id="web-check", host=f"{host}-web-check", stored_at=timezone.now())

            assert client.get("/monitor/health/").status_code == 200
            body = wait_for(
                lambda: (b := client.get(ASK_WORKERS).json())["workers_online"] == 1 and b,
                30,
                "the worker to answer the status broadcast",
                worker_log,
            )
            assert body["broker"]["state"] == "ok"
            assert client.post("/monitor/collect/").status_code == 202

            break_redis(redis)
            outage_began = time.monotonic()

            # Reads and writes do not touch the broker.
            listed, read_time = timed(lambda: client.get(f"/monitor/resources/?host={host}"))
            assert listed.status_code == 200 and listed.json()["results"]
            written = client.post("/monitor/resources/", {"name": "during.outage", "value": 1.0}, "application/json")
            assert written.status_code == 201
            assert Resource.objects.filter(name="during.outage").count() == 1

            app_status, status_time = timed(lambda: client.get(ASK_WORKERS))
            assert app_status.status_code == 200
            assert app_status.json()["broker"]["state"] == broker_state, app_status.json()["broker"]
            assert app_status.json()["workers_online"] == 0
            assert status_time < BUDGET

            health, health_time = timed(lambda: client.get("/monitor/health/"))
            assert health.status_code == 503
            assert health.json()["failed"] == ["broker"]
            assert health_time < BUDGET

            queued, queue_time = timed(lambda: client.post("/monitor/collect/"))
            assert queued.status_code == 503
            assert "Broker unavailable" in queued.json()["detail"]
            assert queue_time < BUDGET

            time.sleep(max(0.0, outage - (time.monotonic() - outage_began)))
            repair_redis(redis)
            back, repaired = timezone.now(), time.monotonic()

            # No manual step: beat sends again and the worker consumes again.
            wait_for(lambda: collecting_since(back), 60, "collection to resume", worker_log)
            resumed_after = time.monotonic() - repaired
            body = wait_for(
                lambda: (b := client.get(ASK_WORKERS).json())["workers_online"] == 1 and b,
                30,
                "the worker to answer the status broadcast again",
                worker_log,
            )
            assert body["broker"]["state"] == "ok"
            assert client.get("/monitor/health/").status_code == 200
            assert client.post("/monitor/collect/").status_code == 202
    print(
        f"\nredis {fault}: list {read_time:.3f}s, status {status_time:.3f}s ({app_status.json()['broker']['state']}), "
        f"health {health_time:.3f}s, collect {queue_time:.3f}s; collection resumed {resumed_after:.1f}s after repair"
    )
