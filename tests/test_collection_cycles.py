"""A collection cycle is stored once per task and host, however often it is delivered;
cycles of one source take turns, and each rate spans the previous stored cycle."""

import threading
import time

import pytest
from django.db import connection

from monitor.collection.collectors import Collected, RateTracker, Sample
from monitor.collection.tasks import store_cycle
from monitor.models import CollectionCycle, CounterState, Host, Resource, Series
from monitor.storage.inserts import resource_bulk_create

pytestmark = pytest.mark.django_db


def test_a_redelivered_task_stores_its_cycle_only_once():
    samples = [Sample("load.1m", 1.0), Sample("load.5m", 2.0)]
    assert resource_bulk_create(samples, host="h1", cycle_id="task-1") == 2
    assert resource_bulk_create(samples, host="h1", cycle_id="task-1") == 0
    assert Resource.objects.count() == 2
    assert CollectionCycle.objects.get().rows == 2


def test_a_broadcast_task_stores_one_cycle_per_host():
    samples = [Sample("load.1m", 1.0)]
    resource_bulk_create(samples, host="h1", cycle_id="task-2")
    resource_bulk_create(samples, host="h2", cycle_id="task-2")
    assert sorted(Resource.objects.values_list("host", flat=True)) == ["h1", "h2"]
    assert set(Host.objects.values_list("name", flat=True)) == {"h1", "h2"}


def ticking_source(
    ticks: list[float],
    reading: threading.Event | None = None,
    go: threading.Event | None = None,
    name: str = "ticks_per_second",
):
    """A source whose counter takes the values in `ticks`, one per read; it can pause mid-read.

    It reads like a collector does: rates against the previous readings it is
    given, at the cycle's time, and returns this cycle's readings.
    """

    def collect(previous, at):
        if reading is not None:
            reading.set()
            assert go.wait(10)
        tracker = RateTracker(previous)
        rate = tracker.rate("ticks_per_second", ticks.pop(0), at)
        return Collected([Sample(name, rate)] if rate is not None else [], tracker.current)

    return collect


def ticks_stored() -> list[tuple[float, float]]:
    """(cycle time, rate) of every stored rate, oldest first."""
    rows = Resource.objects.filter(name__startswith="ticks_per_second").order_by("timestamp")
    return [(at.timestamp(), value) for at, value in rows.values_list("timestamp", "value")]


def in_thread(target) -> threading.Thread:
    def run():
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


SOURCE = ("test", "ticking")


def taken_at(source=SOURCE) -> float:
    return CounterState.objects.get(source=source[0], key=source[1]).taken_at.timestamp()


@pytest.mark.django_db(transaction=True)
def test_a_cycle_of_a_source_waits_for_the_one_in_progress_and_its_rate_spans_it():
    store_cycle([(SOURCE, ticking_source([100.0]))])  # the readings the next rate starts from
    first = taken_at()
    reading, go = threading.Event(), threading.Event()
    # A beat cycle reads (slowly); a collect-now of the same source starts meanwhile.
    beat = in_thread(lambda: store_cycle([(SOURCE, ticking_source([150.0], reading, go))], cycle_id="beat"))
    assert reading.wait(10)
    collect_now = in_thread(lambda: store_cycle([(SOURCE, ticking_source([400.0]))], cycle_id="now"))
    time.sleep(0.5)
    assert collect_now.is_alive() and not CollectionCycle.objects.exists(), "the second cycle did not wait"
    go.set()
    beat.join(10)
    collect_now.join(10)

    (beat_at, beat_rate), (now_at, now_rate) = ticks_stored()
    assert beat_rate == 50.0 / (beat_at - first)
    assert now_rate == 250.0 / (now_at - beat_at)
    assert taken_at() == now_at


@pytest.mark.django_db(transaction=True)
def test_the_first_two_cycles_of_a_new_source_take_turns_too():
    # No row to lock yet: the first cycle creates it, and the second waits on it.
    reading, go = threading.Event(), threading.Event()
    beat = in_thread(lambda: store_cycle([(SOURCE, ticking_source([100.0], reading, go))], cycle_id="beat"))
    assert reading.wait(10)
    collect_now = in_thread(lambda: store_cycle([(SOURCE, ticking_source([130.0]))], cycle_id="now"))
    time.sleep(0.5)
    assert collect_now.is_alive(), "the second cycle did not wait"
    go.set()
    beat.join(10)
    collect_now.join(10)

    beat_at = CollectionCycle.objects.get(task_id="beat").stored_at.timestamp()
    ((now_at, now_rate),) = ticks_stored()
    assert now_rate == 30.0 / (now_at - beat_at)


@pytest.mark.django_db(transaction=True)
def test_the_first_cycle_of_a_source_stores_no_rate_and_the_second_one_does():
    store_cycle([(SOURCE, ticking_source([7.0]))], cycle_id="first")
    assert ticks_stored() == []
    store_cycle([(SOURCE, ticking_source([9.0]))], cycle_id="second")
    assert len(ticks_stored()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_cycle_leaves_the_readings_of_the_stored_one():
    store_cycle([(SOURCE, ticking_source([1.0]))], cycle_id="task-1")
    readings = CounterState.objects.get().readings
    assert store_cycle([(SOURCE, ticking_source([5.0]))], cycle_id="task-1") == 0
    assert CounterState.objects.get().readings == readings


@pytest.mark.django_db(transaction=True)
def test_a_failed_cycle_stores_nothing_and_does_not_hold_the_source():
    store_cycle([(SOURCE, ticking_source([1.0]))])
    readings = CounterState.objects.get().readings

    def broken(previous, at):
        raise OSError("the source broke mid-read")

    with pytest.raises(OSError):
        store_cycle([(SOURCE, broken)], cycle_id="broken")
    assert CounterState.objects.get().readings == readings
    assert not CollectionCycle.objects.filter(task_id="broken").exists()
    # The next cycle is not kept waiting, and its rate spans the last stored cycle.
    store_cycle([(SOURCE, ticking_source([3.0]))], cycle_id="next")
    assert len(ticks_stored()) == 1


@pytest.mark.django_db(transaction=True)
def test_sources_of_one_cycle_keep_their_own_readings():
    other = ("test", "other")
    # Each source names its own series, as collectors do (`mysql.queries_per_second:<server>`).
    store_cycle([(SOURCE, ticking_source([1.0])), (other, ticking_source([10.0], name="ticks_per_second:other"))])
    store_cycle([(SOURCE, ticking_source([2.0])), (other, ticking_source([30.0], name="ticks_per_second:other"))])
    ((_, a), (_, b)) = ticks_stored()
    assert sorted([a, b])[1] == pytest.approx(20 * sorted([a, b])[0])


def test_a_cycle_stores_how_long_its_collectors_took():
    store_cycle([(SOURCE, ticking_source([1.0]))], kind="host")
    took = Resource.objects.get(name="collection.duration_seconds:host")
    assert 0 <= took.value < 5
    series = Series.objects.get(name="collection.duration_seconds:host")
    assert (series.metric, series.labels, series.unit) == ("collection.duration_seconds", {"cycle": "host"}, "s")


@pytest.mark.django_db(transaction=True)
def test_overlapping_cycles_of_sources_new_and_old_all_get_stored(on_mysql):
    # Two server cycles at once (beat and a collect-now, or a backlog after the broker came
    # back), each locking a source that has a row and one that has none yet: each can hold
    # the gap the other's new row goes in (InnoDB: a deadlock). Every cycle must still be stored.
    from django.db import transaction

    old = ("test", "old")
    store_cycle([(old, ticking_source([1.0], name="old_ticks"))], cycle_id="setup")
    failures: list = []
    start = threading.Barrier(2)

    def cycle(round_: int, who: str) -> None:
        new = ("test", f"new-{round_}")
        try:
            start.wait(10)
            store_cycle(
                [(new, ticking_source([1.0], name=f"new_{round_}")), (old, ticking_source([2.0], name="old_ticks"))],
                cycle_id=f"{who}-{round_}",
            )
        except Exception as exc:  # noqa: BLE001 - reported to the test
            failures.append(exc)

    for round_ in range(30):
        threads = [in_thread(lambda who=who, r=round_: cycle(r, who)) for who in ("beat", "now")]
        for thread in threads:
            thread.join(30)
    assert failures == []
    assert CollectionCycle.objects.count() == 1 + 2 * 30
    assert not transaction.get_connection().in_atomic_block


@pytest.mark.django_db(transaction=True)
def test_a_cycle_that_meets_a_deadlock_is_collected_and_stored_again():
    # What InnoDB does to one of two cycles that each hold what the other waits for (seen in
    # outside testing with beat and a burst of collect-now on a worker of concurrency 2).
    from django.db import OperationalError

    calls = []

    def deadlocked_once(previous, at):
        calls.append(at)
        if len(calls) == 1:
            raise OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
        return Collected([Sample("ticks_per_second", 1.0)], {"n": 1.0})

    assert store_cycle([(SOURCE, deadlocked_once)], cycle_id="retried") == 1
    assert len(calls) == 2
    assert CollectionCycle.objects.get().task_id == "retried"
    assert CounterState.objects.get(source=SOURCE[0], key=SOURCE[1]).readings == {"n": 1.0}
