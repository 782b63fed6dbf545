"""Each worker samples its own host on its own timer; beat sends no host cycle unless told to broadcast them."""

import threading
import time
from collections.abc import Callable

import pytest

from monitor.collection.host_timer import HostTimer
from monitor.collection.schedule import COLLECT_HOST, beat_schedule
from monitor.models import CollectionCycle, Resource
from procs import child_env, running, wait_for, worker_args


def run_timer(every: float, cycle: Callable[[], object], until: Callable[[], object], what: str) -> None:
    """A HostTimer running `cycle` until `until()` holds (at most 5 s), then stopped."""
    timer = HostTimer(every, cycle)
    timer.start()
    try:
        wait_for(until, 5, what)
    finally:
        timer.stop(timeout=2)


def test_the_timer_runs_each_cycle_at_a_whole_multiple_of_its_interval():
    starts: list[float] = []
    run_timer(0.2, lambda: starts.append(time.time()), lambda: len(starts) >= 4, "four cycles")
    assert all(abs(at / 0.2 - round(at / 0.2)) < 0.25 for at in starts), starts  # on the slot, not drifting
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert all(0.1 < gap < 0.35 for gap in gaps), gaps


def test_a_cycle_that_overruns_skips_the_slots_it_missed_instead_of_catching_up():
    starts: list[float] = []

    def slow() -> None:
        starts.append(time.time())
        if len(starts) == 1:
            time.sleep(0.55)  # misses two 0.2 s slots

    run_timer(0.2, slow, lambda: len(starts) >= 3, "three cycles")
    assert starts[1] - starts[0] >= 0.55  # no back-to-back run of the missed slots
    assert starts[2] - starts[1] > 0.1


def test_a_failing_cycle_is_logged_and_the_next_one_still_runs(caplog):
    calls: list[int] = []

    def failing_once() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database down")

    run_timer(0.1, failing_once, lambda: len(calls) >= 2, "a cycle after the failure")
    assert "host cycle failed" in caplog.text
    assert "database down" in caplog.text


def test_stop_ends_the_thread_without_waiting_for_the_next_slot():
    timer = HostTimer(3600, lambda: None)
    timer.start()
    started = time.monotonic()
    timer.stop(timeout=5)
    assert time.monotonic() - started < 1
    assert not any(t.name == "host timer" and t.is_alive() for t in threading.enumerate())


def test_beat_sends_host_cycles_only_when_they_are_broadcast():
    assert COLLECT_HOST not in {entry["task"] for entry in beat_schedule(10, host_broadcast=False).values()}
    entry = beat_schedule(10, host_broadcast=True)["collect-host-metrics"]
    assert (entry["task"], entry["schedule"], entry["options"]["expires"]) == (COLLECT_HOST, 10.0, 30.0)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_without_beat_stores_its_host_every_interval(tmp_path):
    host = "timer-host"
    env = child_env(
        tmp_path,
        CELERY_BROKER_URL="filesystem://",
        METRICS_INTERVAL="1",
        MONITOR_HOSTNAME=host,
        MONITOR_HOST_TIMER="1",
    )
    log = tmp_path / "worker.log"
    with running(worker_args("timer@testhost"), env, log):  # no beat at all
        wait_for(lambda: CollectionCycle.objects.filter(host=host).count() >= 3, 45, "three host cycles", log)
    names = set(Resource.objects.filter(host=host).values_list("name", flat=True))
    assert {"memory.used_percent", "cpu.percent", "collection.duration_seconds:host"} <= names
    # One second apart, each its own cycle with its own id.
    ids = list(CollectionCycle.objects.filter(host=host).values_list("task_id", flat=True))
    assert len(set(ids)) == len(ids)
