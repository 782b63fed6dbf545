"""The database restarts under a running web process, which recovers without being restarted.

Goes through gunicorn (the real WSGI handler): Django's test client switches off
the per-request connection clean-up (close_old_connections), which is exactly
what drops a connection the restart killed, so only a real server can show it.
"""

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from procs import child_env, closed_port, running, wait_for
from servers import build_mariadb_template, private_mariadb, timed

pytestmark = [pytest.mark.slow, pytest.mark.mysql]

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


@pytest.fixture(scope="session")
def mariadb_template(tmp_path_factory) -> Path:
    """A migrated MariaDB data directory, built once per session and copied by each test."""
    return build_mariadb_template(tmp_path_factory.mktemp("mariadb-template"))


def call(base: str, method: str, path: str, body: object = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:300]


def sample(n: int) -> dict:
    return {"name": "faults.db_restart", "value": float(n), "host": "faults-db"}


def test_the_web_process_recovers_from_a_database_restart_without_being_restarted(mariadb_template, tmp_path):
    port = closed_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    with private_mariadb(mariadb_template, tmp_path) as db:
        env = child_env(tmp_path, DATABASE_URL=db.url(), MONITOR_MYSQL_URLS="")
        args = [GUNICORN, "db_django.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "--timeout", "60"]
        with running(args, env, log) as web:

            def serving() -> bool:
                assert web.poll() is None, log.read_text(errors="replace")[-3000:]
                try:
                    return call(base, "GET", "/monitor/resources/")[0] == 200
                except OSError:
                    return False

            wait_for(serving, 60, "gunicorn to serve", log)
            # One sync worker: every request below shares its one persistent connection.
            assert call(base, "POST", "/monitor/resources/", sample(1))[0] == 201
            (status, body), _ = timed(lambda: call(base, "GET", "/monitor/resources/?host=faults-db"))
            assert status == 200 and [r["value"] for r in body["results"]] == [1.0]

            # A restart between two requests: the worker holds a connection the server has dropped.
            db.stop()
            db.start()
            (status, body), first = timed(lambda: call(base, "GET", "/monitor/resources/?host=faults-db"))
            assert status == 200, f"first request after the restart failed: {status} {body}"
            assert [r["value"] for r in body["results"]] == [1.0]
            assert call(base, "POST", "/monitor/resources/", sample(2))[0] == 201

            # A request during the outage fails cleanly and fast (no hang), and the
            # failed connection is not reused once the server is back.
            db.stop()
            (status, _), during = timed(lambda: call(base, "GET", "/monitor/resources/"))
            assert 500 <= status < 600
            assert during < 10
            db.start()
            (status, _), after = timed(lambda: call(base, "POST", "/monitor/resources/", sample(3)))
            assert status == 201
            status, body = call(base, "GET", "/monitor/resources/?host=faults-db")
            assert status == 200 and sorted(r["value"] for r in body["results"]) == [1.0, 2.0, 3.0]
            assert web.poll() is None, "the web process must not have been restarted"
            # The same gunicorn worker served everything: no worker was recycled either.
            assert log.read_text(errors="replace").count("Booting worker") == 1
    print(f"\nfirst request after restart {first:.3f}s; during outage {during:.3f}s; after second restart {after:.3f}s")
