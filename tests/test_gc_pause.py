"""gc_paused: no cycle collection while a large read builds its rows, and the collector back afterwards."""

import gc
import threading
import weakref

import pytest

from monitor import gc_pause
from monitor.gc_pause import gc_paused


@pytest.fixture
def collections() -> list[int]:
    """The generation of every collection that runs while the test does."""
    seen: list[int] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(record)
    yield seen
    gc.callbacks.remove(record)


def test_the_collector_is_off_inside_and_back_on_after():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_comes_back_after_an_error_in_the_block():
    with pytest.raises(ZeroDivisionError), gc_paused():
        raise ZeroDivisionError
    assert gc.isenabled()


def test_no_collection_runs_while_a_block_allocates_many_tuples(collections):
    with gc_paused():
        rows = [(i, str(i), float(i)) for i in range(50_000)]
        during = list(collections)
    assert len(rows) == 50_000
    assert during == []


def test_overlapping_blocks_share_one_pause_that_ends_with_the_last():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    states: dict[str, bool] = {}

    def second() -> None:
        first_in.wait()
        with gc_paused():
            second_in.set()
            first_out.wait()
            states["after the first ended"] = gc.isenabled()

    thread = threading.Thread(target=second)
    thread.start()
    with gc_paused():
        first_in.set()
        second_in.wait()
    first_out.set()
    thread.join()
    assert states == {"after the first ended": False}
    assert gc.isenabled()


def test_a_process_that_turned_the_collector_off_keeps_it_off():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_still_run_a_full_collection_every_so_often(monkeypatch, collections):
    monkeypatch.setattr(gc_pause, "FULL_COLLECTION_SECONDS", 0.0)
    with gc_paused():
        with gc_paused():
            pass
        assert collections == [2]  # the inner block ended while the outer still held the pause
        assert not gc.isenabled()
    assert gc.isenabled()


def test_old_garbage_cycles_are_freed_during_a_steady_stream_of_pauses(monkeypatch):
    monkeypatch.setattr(gc_pause, "FULL_COLLECTION_SECONDS", 0.0)

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    gc.collect()  # still referenced: moved to the oldest generation, which young collections never see
    del a, b
    with gc_paused():  # held open by one request throughout
        with gc_paused():
            pass  # another request
        assert gone() is None


def test_a_web_worker_leaves_its_start_up_heap_out_of_every_collection():
    """db_django.wsgi freezes what start-up built: a full collection then walks only what requests leave."""
    import os
    import subprocess
    import sys

    script = "import gc, json, db_django.wsgi; print(json.dumps([gc.get_freeze_count(), len(gc.get_objects())]))"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "db_django.settings"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    frozen, tracked = map(int, out.stdout.strip().splitlines()[-1].strip("[]").split(","))
    assert frozen > 50_000  # Django, DRF and every view module
    assert tracked < 1_000
