"""PUT, PATCH and DELETE of samples racing each other and bulk writes (MySQL/MariaDB, InnoDB row locks).

Outside testing found: two PUTs moving one sample both answered 200 and left two
samples; a PUT and a DELETE both succeeded and the sample survived; agents resending
overlapping batches at once got 500; DELETEs during bulk writes of the same series
deadlocked and answered 503. An edit now finds its sample gone (404) when another
request removed or moved it first, and edits and writes lock shared rows in one
order and retry a deadlock.
"""

import threading
from collections.abc import Callable

import pytest
from django.db import connections
from django.test import Client

from monitor.models import Rollup, Sample
from monitor.storage.edits import delete_sample
from monitor.storage.inserts import Point
from samples import store

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/monitor/resources/"
T0 = 1_795_000_000_000_000  # microseconds
TRIALS = 8


def together(*calls: Callable[[], object]) -> list:
    """Run the calls in threads released at once; their results (or exceptions) in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = calls[index]()
        except Exception as exc:  # noqa: BLE001 - returned to the test
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def put(sample_id: str, body: dict) -> Callable[[], int]:
    return lambda: Client().put(f"{URL}{sample_id}/", body, content_type="application/json").status_code


def delete(sample_id: str) -> Callable[[], int]:
    return lambda: Client().delete(f"{URL}{sample_id}/").status_code


def stored_values(name: str) -> list[float]:
    return sorted(Sample.objects.filter(series__name=name).values_list("value", flat=True))


def minutes_match_samples() -> bool:
    return sum(Rollup.objects.filter(step=Rollup.MINUTE).values_list("count", flat=True)) == Sample.objects.count()


def test_two_puts_moving_one_sample_leave_one_sample(on_mysql):
    for trial in range(TRIALS):
        name = f"cpu.{trial}"
        row = store(name, 1.0, timestamp=None)
        statuses = together(
            put(row.id, {"name": name, "value": 2.0, "timestamp": "2026-11-25T10:00:10Z"}),
            put(row.id, {"name": name, "value": 3.0, "timestamp": "2026-11-25T10:00:20Z"}),
        )
        assert sorted(statuses) == [200, 404], statuses
        assert len(stored_values(name)) == 1
    assert minutes_match_samples()


def test_a_put_and_a_delete_of_one_sample_do_one_thing_or_the_other(on_mysql):
    for trial in range(TRIALS):
        name = f"cpu.{trial}"
        row = store(name, 1.0, timestamp=None)
        moved, deleted = together(
            put(row.id, {"name": name, "value": 2.0, "timestamp": "2026-11-25T10:00:10Z"}), delete(row.id)
        )
        assert (moved, deleted) in ((200, 404), (404, 204)), (moved, deleted)
        assert stored_values(name) == ([2.0] if moved == 200 else [])
    assert minutes_match_samples()


def test_two_deletes_of_one_sample_answer_204_then_404(on_mysql):
    for trial in range(TRIALS):
        row = store(f"cpu.{trial}", 1.0, timestamp=None)
        assert sorted(together(delete(row.id), delete(row.id))) == [204, 404]
    assert Sample.objects.count() == 0


def test_agents_resending_overlapping_batches_at_once_store_each_sample_once(on_mysql):
    for trial in range(TRIALS):
        names = [f"m.{i}" for i in range(200)]
        ts = T0 + trial * 1_000_000
        Sample.objects.store([Point(names[0], "h", ts, 1.0)])  # one of them stored already
        batch = [Point(name, "h", ts, 1.0) for name in names]
        results = together(lambda b=batch: Sample.objects.store(b), lambda b=batch: Sample.objects.store(b))
        assert not [r for r in results if isinstance(r, Exception)], results
    assert Sample.objects.count() == 200 * TRIALS
    assert minutes_match_samples()


def test_deletes_during_bulk_writes_of_the_same_series_all_succeed(on_mysql):
    names = [f"m.{i}" for i in range(100)]
    mine = [Sample.objects.store([Point(name, "h", T0 + k, 1.0) for name in names]) for k in range(1, 31)]

    def deleter(keys: list[tuple[int, int]]) -> Callable[[], None]:
        def run() -> None:
            for series_id, ts in keys:
                assert delete_sample(series_id, ts)

        return run

    def writer(first: int) -> Callable[[], None]:
        def run() -> None:
            for k in range(first, first + 15):
                Sample.objects.store([Point(name, "h", T0 + 1_000_000 + k * 1000, 2.0) for name in names])

        return run

    picks = [[keys[i] for keys in mine for i in range(part, 100, 25)] for part in range(3)]
    results = together(*(deleter(p) for p in picks), writer(0), writer(100), writer(200))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert Sample.objects.count() == 100 * 30 - sum(len(p) for p in picks) + 3 * 15 * 100
    assert minutes_match_samples()
