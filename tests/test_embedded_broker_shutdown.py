"""Ctrl-C on `make run` stops web, worker and beat gracefully, and soon.

The embedded broker's worker notices a shutdown within a fraction of a second,
and scripts/procfile.py signals each process, never its pool processes.
"""

import signal
import sys
import time

import pytest
from celery.worker import state as worker_state
from kombu import Connection

from procs import child_env, closed_port, listening, running, wait_for


@pytest.fixture
def embedded_broker(tmp_path):
    folder = tmp_path / "broker"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(folder)}
    with Connection(
        "filesystem://", transport="db_django.filesystem_broker:Transport", transport_options=options
    ) as conn:
        conn.default_channel  # noqa: B018  (opens the channel drain_events polls)
        yield conn


def timed_drain(conn: Connection, timeout: float) -> float:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        conn.drain_events(timeout=timeout)
    return time.monotonic() - started


def test_a_drain_waits_its_whole_timeout_when_no_worker_is_stopping(embedded_broker):
    # `celery inspect` reads a timeout as "no more replies": it must not come early.
    assert timed_drain(embedded_broker, 0.8) >= 0.75


def test_a_drain_ends_within_a_slice_once_the_worker_is_asked_to_stop(embedded_broker, monkeypatch):
    monkeypatch.setattr(worker_state, "should_stop", 0)  # what celery's SIGTERM handler sets (EX_OK)
    assert timed_drain(embedded_broker, 2.0) < 0.5


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_make_runs_launcher_stops_web_worker_and_beat_gracefully_on_ctrl_c(tmp_path):
    port = closed_port()
    env = child_env(tmp_path, CELERY_BROKER_URL="filesystem://", WEB_PORT=str(port))
    log = tmp_path / "run.log"
    with running([sys.executable, "scripts/procfile.py", "Procfile"], env, log) as launcher:
        wait_for(
            lambda: b" ready." in log.read_bytes() and listening("127.0.0.1", port), 60, "worker and web to be up", log
        )
        started = time.monotonic()
        launcher.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C
        launcher.wait(timeout=30)
        took = time.monotonic() - started
    output = log.read_text()
    assert launcher.returncode == 0, output[-3000:]
    assert took < 6.0, f"stopping took {took:.1f} s\n{output[-3000:]}"
    assert "worker stopped (rc=0)" in output  # its warm shutdown ran to the end
    assert "SIGKILL" not in output and "ERROR" not in output, output[-3000:]
