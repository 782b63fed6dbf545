"""The embedded (filesystem) broker under concurrent use: no message is seen half-written.

`make run` has the web process, beat and the worker's pool processes publishing
into one folder while the worker's main process reads it. kombu 5.7 creates a
message file and then writes it, and a reader that lists the folder in between
takes the empty file: JSONDecodeError, and the worker exits. Here several
processes publish and several read through the project's transport at once,
and a real worker is handed files it cannot decode.
"""

import json
import multiprocessing
import queue
import time
import uuid
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue

from db_django.celery import app as celery_app
from db_django.celery import debug_task
from db_django.filesystem_broker import transport_options
from procs import child_env, running, wait_for, worker_args

TRANSPORT = "db_django.filesystem_broker:Transport"
HAMMER = Queue("hammer", Exchange("hammer", "direct"), routing_key="hammer")
# Forked, not spawned: the children need nothing but kombu and the options passed in.
fork = multiprocessing.get_context("fork")


def connect(options: dict) -> Connection:
    return Connection("filesystem://", transport=TRANSPORT, transport_options=options)


def publish_many(options: dict, tag: str, count: int, go) -> None:
    with connect(options) as conn:
        producer = conn.Producer(serializer="json")
        go.wait()
        for i in range(count):
            producer.publish({"id": f"{tag}-{i}"}, exchange=HAMMER.exchange, routing_key="hammer", declare=[HAMMER])


def consume_until(options: dict, received, errors, stop) -> None:
    """Take every message as fast as it comes, as the worker does once it is idle."""
    with connect(options) as conn:

        def on_message(body, message):
            received.put(body["id"])
            message.ack()

        with conn.Consumer([HAMMER], callbacks=[on_message], accept=["json"]):
            while not stop.is_set():
                try:
                    conn.drain_events(timeout=0.2)
                except TimeoutError:
                    pass
                except Exception as exc:  # what would have stopped a worker
                    errors.put(repr(exc))


def drain(q) -> list:
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


@pytest.fixture
def broker_folders(tmp_path) -> dict:
    options = transport_options(tmp_path / "broker")
    options["polling_interval"] = 0.01  # readers as eager as they can be
    return options


def test_messages_published_from_several_processes_are_each_read_once_and_whole(broker_folders):
    publishers, per_publisher, readers = 3, 200, 4
    received, errors, stop, go = fork.Queue(), fork.Queue(), fork.Event(), fork.Event()
    consumers = [
        fork.Process(target=consume_until, args=(broker_folders, received, errors, stop)) for _ in range(readers)
    ]
    producers = [
        fork.Process(target=publish_many, args=(broker_folders, f"p{n}", per_publisher, go)) for n in range(publishers)
    ]
    for process in consumers + producers:
        process.start()
    try:
        time.sleep(0.5)  # readers polling an empty queue: the moment a new file is most exposed
        go.set()
        for process in producers:
            process.join(timeout=60)
            assert process.exitcode == 0, "a publisher failed"
        expected = sorted(f"p{n}-{i}" for n in range(publishers) for i in range(per_publisher))
        got: list[str] = []
        deadline = time.monotonic() + 30
        while len(got) < len(expected) and time.monotonic() < deadline:
            try:
                got.append(received.get(timeout=1))
            except queue.Empty:
                if not any(p.is_alive() for p in consumers):
                    break
    finally:
        stop.set()
        for process in consumers:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    failures = drain(errors)
    got += drain(received)
    assert failures == [], f"{len(failures)} reads failed, first: {failures[:3]}"
    assert sorted(got) == expected, f"{len(got)} of {len(expected)} delivered, {len(got) - len(set(got))} twice"
    assert not list(Path(broker_folders["data_folder_in"]).glob("*.msg")), "every message was taken"


FAN_OUTS = [Exchange(f"fan-out-{n}", "fanout") for n in range(10)]


def bind_at_once(options: dict, name: str, go) -> None:
    with connect(options) as conn:
        go.wait()
        for exchange in FAN_OUTS:  # each a new exchange, its table made by whoever comes first
            Queue(name, exchange)(conn.default_channel).declare()


def test_queues_bound_to_one_exchange_at_once_from_several_processes_all_get_its_messages(broker_folders):
    names = [f"bound-{n}" for n in range(8)]
    go = fork.Event()
    binders = [fork.Process(target=bind_at_once, args=(broker_folders, name, go)) for name in names]
    for process in binders:
        process.start()
    go.set()
    for process in binders:
        process.join(timeout=30)
    assert [p.exitcode for p in binders] == [0] * len(names), "every bind succeeded"

    with connect(broker_folders) as conn:
        producer = conn.Producer(serializer="json")
        for exchange in FAN_OUTS:
            producer.publish({"to": "all"}, exchange=exchange)
        channel = conn.default_channel
        short = {name: channel._size(name) for name in names if channel._size(name) != len(FAN_OUTS)}
    assert short == {}, f"queues that missed broadcasts (lost bindings): {short}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_sets_aside_message_files_it_cannot_decode_and_keeps_working(tmp_path):
    env = child_env(tmp_path, CELERY_BROKER_URL="filesystem://")
    log = tmp_path / "worker.log"
    options = transport_options(tmp_path / "broker")
    with running(worker_args("undecodable@testhost"), env, log) as worker:
        wait_for(lambda: "ready." in log.read_text(errors="replace"), 60, "the worker to start", log)
        # What a writer stopped between creating and writing leaves, a cut one, and one that is no message.
        bad = {"empty": b"", "cut": json.dumps({"body": "eyJ", "properties": {}})[:20].encode(), "list": b"[]"}
        names = {}
        for kind, content in bad.items():
            names[kind] = f"{int(time.monotonic() * 1000)}_{uuid.uuid4()}.celery.msg"
            (Path(options["data_folder_in"]) / names[kind]).write_bytes(content)
        with celery_app.connection_for_write("filesystem://", transport=TRANSPORT, transport_options=options) as conn:
            task_id = debug_task.apply_async(connection=conn).id
        wait_for(lambda: f"[{task_id}] succeeded" in log.read_text(errors="replace"), 30, "the next task to run", log)
        assert worker.poll() is None, "the worker is still running"

    text = log.read_text(errors="replace")
    quarantine = Path(options["quarantine_folder"])
    for kind, name in names.items():
        assert (quarantine / name).read_bytes() == bad[kind], f"the {kind} file is kept for a look"
        assert name in text, f"the log names the {kind} file"
    assert not list(Path(options["data_folder_in"]).glob("*.msg"))
