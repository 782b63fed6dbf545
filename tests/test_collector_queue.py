"""Task-queue samples from worker replies: sums, per-worker rates, no spikes; a real worker asked every cycle."""

import time

import pytest

from monitor.collection.collectors.queue import collect_queue
from monitor.collection.queue_probe import QueueProbe
from procs import broker_at, child_env, closed_port, running, wait_for, worker_args

REPLY_BINDINGS = "_kombu.binding.reply.celery.pidbox"


def values(samples):
    return {s.name: s.value for s in samples}


def reply(succeeded=0, failed=0, active=0, reserved=0, scheduled=0):
    return {
        "active": active,
        "reserved": reserved,
        "scheduled": scheduled,
        "succeeded_total": succeeded,
        "failed_total": failed,
    }


def test_it_sums_task_counts_over_workers_and_reports_queue_lengths():
    got = values(
        collect_queue({"a@x": reply(active=1, reserved=2), "b@y": reply(scheduled=3)}, {"celery": 7}, now=0.0).samples
    )
    assert got["celery.workers_online"] == 2
    assert got["celery.queue_length:celery"] == 7
    assert (got["celery.tasks_active"], got["celery.tasks_reserved"], got["celery.tasks_scheduled"]) == (1, 2, 3)


def test_finished_and_failed_become_per_minute_rates():
    first = collect_queue({"a@x": reply(succeeded=10, failed=1)}, {}, now=0.0)
    got = values(collect_queue({"a@x": reply(succeeded=40, failed=3)}, {}, first.counters, now=60.0).samples)
    assert got["celery.tasks_succeeded_per_minute"] == 30.0
    assert got["celery.tasks_failed_per_minute"] == 2.0


def test_a_restarted_or_new_worker_causes_no_negative_rate_or_spike():
    first = collect_queue({"a@x": reply(succeeded=1000)}, {}, now=0.0)
    # a@x restarted (totals back to 5) and b@y joined with a long history.
    second = collect_queue({"a@x": reply(succeeded=5), "b@y": reply(succeeded=90000)}, {}, first.counters, now=60.0)
    assert "celery.tasks_succeeded_per_minute" not in values(second.samples)
    third = collect_queue({"a@x": reply(succeeded=8), "b@y": reply(succeeded=90010)}, {}, second.counters, now=120.0)
    got = values(third.samples)
    assert got["celery.tasks_succeeded_per_minute"] == 13.0


def test_each_workers_rate_is_timed_by_its_own_clock_not_the_collectors():
    # The worker answered at 100 s and 160 s by its clock; the collectors (two
    # workers on other machines, whose clocks disagree) saw the replies at 5 s and 500 s.
    first = collect_queue({"a@x": {**reply(succeeded=10), "time": 100.0}}, {}, now=5.0)
    second = collect_queue({"a@x": {**reply(succeeded=70), "time": 160.0}}, {}, first.counters, now=500.0)
    assert values(second.samples)["celery.tasks_succeeded_per_minute"] == 60.0


@pytest.fixture
def probe():
    """The queue probe as a newly started pool process has it: no connection, nothing heard yet."""
    from db_django.celery import app

    probe = QueueProbe(app)
    yield probe
    probe.close()


def workers_online(probe: QueueProbe) -> float:
    return values(probe.collect({}, 1.0).samples)["celery.workers_online"]


@pytest.mark.redis
@pytest.mark.slow
def test_a_real_worker_is_counted_every_cycle_over_one_kept_reply_queue(redis_url, tmp_path, probe):
    import redis

    broker = redis.Redis.from_url(redis_url)
    log = tmp_path / "worker.log"
    with (
        broker_at(redis_url),
        running(worker_args("queue@testhost"), child_env(tmp_path, CELERY_BROKER_URL=redis_url), log),
    ):
        wait_for(lambda: workers_online(probe) == 1, 30, "the worker", log)
        bindings_before = broker.scard(REPLY_BINDINGS)

        cycles, previous = [], {}
        for _ in range(5):
            asked = time.time()
            collected = probe.collect(previous, 1.0)
            cycles.append(values(collected.samples))
            previous = collected.counters
            # The worker dates its totals by its own clock, when it answered.
            assert asked <= previous["celery.succeeded:queue@testhost"][1] <= time.time()

        assert all(cycle["celery.broker_up"] == 1.0 and cycle["celery.workers_online"] == 1.0 for cycle in cycles)
        # What the last cycle heard, for /monitor/application/ (stored by the server-status task), taken once.
        report = probe.take_report()
        assert report.workers == {"queue@testhost": {"active": 0, "reserved": 0, "scheduled": 0}}
        assert report.broker["state"] == "ok" and 0 <= report.broker["latency_ms"] < 1000
        assert asked <= report.reported_at.timestamp() <= time.time()
        assert probe.take_report() is None
        # One reply queue for the collector's life: a new one per cycle would grow the set
        # kombu reads in full for every reply a worker sends.
        assert broker.scard(REPLY_BINDINGS) == bindings_before


@pytest.mark.redis
@pytest.mark.slow
def test_a_worker_that_joins_later_is_counted_within_the_discovery_period(redis_url, tmp_path, probe):
    probe.discovery_seconds = 3.0
    env = child_env(tmp_path, CELERY_BROKER_URL=redis_url)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with broker_at(redis_url), running(worker_args("first@testhost"), env, first_log):
        wait_for(lambda: workers_online(probe) == 1, 30, "the first worker", first_log)
        with running(worker_args("second@testhost"), env, second_log):
            # Cycles in between stop listening after one answer; a full listen hears both.
            wait_for(lambda: workers_online(probe) == 2, 30, "both workers counted", second_log)
            assert [workers_online(probe) for _ in range(3)] == [2.0, 2.0, 2.0]
        # One gone: a cycle expecting two listens out its window and counts one.
        wait_for(lambda: workers_online(probe) == 1, 15, "the stopped worker no longer counted", first_log)


def test_a_broker_that_does_not_answer_is_reported_with_its_state(probe):
    with broker_at(f"redis://127.0.0.1:{closed_port()}/0"):
        assert values(probe.collect({}, 0.5).samples) == {"celery.broker_up": 0.0}
    report = probe.take_report()
    assert report.workers == {} and report.broker["state"] == "unreachable"
    assert "Error" in report.broker["error"]
