"""Start real worker/beat/web processes for tests and always stop them."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
CELERY = str(Path(sys.executable).with_name("celery"))


def listening(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on (host, port)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def frozen_server() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never answers: a frozen server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Point this process's Celery app (the web side) at another broker for the duration.

    Celery reads CELERY_BROKER_URL from the environment before its config, so
    both are switched, and both restored. The transport follows the URL's scheme
    (the embedded mode names its own transport class, for filesystem:// only).
    """
    from db_django.celery import app

    conf = app.conf
    saved = conf.broker_url, conf.broker_transport_options, conf.broker_transport, os.environ.get("CELERY_BROKER_URL")
    conf.broker_url, conf.broker_transport_options, conf.broker_transport = url, {}, None
    os.environ["CELERY_BROKER_URL"] = url
    try:
        yield
    finally:
        conf.broker_url, conf.broker_transport_options, conf.broker_transport, env = saved
        if env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = env


def test_database_url() -> str:
    """DATABASE_URL of the database this test run uses, for child processes."""
    s = connection.settings_dict
    if connection.vendor == "mysql":
        return f"mysql://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
    return f"sqlite:///{Path(s['NAME']).resolve()}"


def child_env(tmp_path: Path, **extra: str) -> dict:
    env = {**os.environ, "DATABASE_URL": test_database_url(), "VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


@contextmanager
def running(args: list[str], env: dict, log: Path) -> Iterator[subprocess.Popen]:
    """Run a process in its own group, logging to `log`; killed with its children on exit."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=10)
                    break
                except subprocess.TimeoutExpired:
                    continue


def worker_args(name: str, *extra: str) -> list[str]:
    return [
        CELERY,
        "-A",
        "db_django",
        "worker",
        "-l",
        "info",
        "-n",
        name,
        "--concurrency",
        "1",
        "--without-mingle",
        "--without-gossip",
        *extra,
    ]


def beat_args(tmp_path: Path) -> list[str]:
    return [CELERY, "-A", "db_django", "beat", "-l", "info", "-s", str(tmp_path / "beat-schedule")]


def wait_for(
    condition: Callable[[], object], timeout: float, what: str, log: Path | None = None, poll: float = 0.3
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(poll)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")
