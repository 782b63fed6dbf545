"""The database restarts, freezes or turns read-only under a running web process.

Goes through gunicorn (the real WSGI handler): Django's test client switches off
the per-request connection clean-up (close_old_connections), which is exactly
what drops a connection the restart killed, and it has no worker threads to
hold, so only a real server can show these. The frozen and read-only cases run
the documented production web process (tests/webserver.py) as the app's own
MariaDB user (no SUPER, so read_only binds it).
"""

import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from procs import child_env, closed_port, running, wait_for
from servers import MARIADB_DATABASE, private_mariadb, timed
from webserver import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    THREADS,
    WORKERS,
    Answer,
    Keys,
    Web,
    production_web,
    provision_app_user,
    seed,
)

pytestmark = [pytest.mark.slow, pytest.mark.mysql]

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


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


# --- A frozen database (SIGSTOP): the server accepts connections and never answers -------------

FROZEN_BUDGET = 10.0  # seconds in which every request must have its 503 (gunicorn's timeout is 30)
HEALTH_BUDGET = 1.5


def fire(web: Web, keys: Keys, count: int) -> list[tuple[str, Answer | Exception]]:
    """`count` concurrent API reads and writes; each one's answer (or the error it raised)."""
    requests = [
        ("GET", "/monitor/resources/", None, keys.read),
        ("GET", "/monitor/resources/latest/", None, keys.read),
        ("POST", "/monitor/resources/", {"name": "faults.frozen", "value": 1.0}, keys.write),
        ("GET", "/monitor/hosts/", None, keys.read),
    ]
    results: list = [None] * count

    def one(i: int) -> None:
        method, path, body, token = requests[i % len(requests)]
        try:
            results[i] = (f"{method} {path}", web.call(method, path, body, token=token))
        except Exception as exc:  # a timeout or reset is a finding, reported below
            results[i] = (f"{method} {path}", exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.redis
def test_a_frozen_database_gets_fast_json_503s_while_health_answers_in_time(mariadb_template, tmp_path, redis_url):
    with private_mariadb(mariadb_template, tmp_path) as db:
        database_url = provision_app_user(db)
        keys = seed(db)
        with production_web(tmp_path, database_url, redis_url) as web:
            # Every thread of every worker holds a persistent connection, as after real traffic.
            warm = fire(web, keys, WORKERS * THREADS * 2)
            assert all(isinstance(a, Answer) and a.status in (200, 201) for _, a in warm), warm[:3]

            db.freeze()
            flood: list = []
            flooding = threading.Thread(target=lambda: flood.extend(fire(web, keys, WORKERS * THREADS + 8)))
            flooding.start()
            time.sleep(0.5)  # every thread is now waiting on the frozen server
            health = web.call("GET", "/monitor/health/", token=keys.read)
            anonymous = web.call("GET", "/monitor/health/")
            flooding.join(90)

            report = "\n".join(
                f"{what}: {a.status} {a.seconds:.1f}s {a.raw[:120]!r}" if isinstance(a, Answer) else f"{what}: {a!r}"
                for what, a in flood
            )
            for what, answer in flood:
                assert isinstance(answer, Answer), f"{what} raised instead of answering:\n{report}"
                assert answer.status == 503 and answer.is_json, report
                assert answer.body["detail"].startswith("Database"), report
                assert int(answer.headers["retry-after"]) > 0, report
                assert answer.seconds < FROZEN_BUDGET, report
            assert health.seconds < HEALTH_BUDGET and anonymous.seconds < HEALTH_BUDGET, (health, anonymous)
            assert health.status == 503 and "database" in health.body["failed"], health
            assert anonymous.status == 503 and "database" in anonymous.body["failed"], anonymous
            assert "WORKER TIMEOUT" not in web.log_text()

            db.thaw()

            def recovered() -> bool:
                reads = web.call("GET", "/monitor/resources/", token=keys.read).status == 200
                return reads and web.call("GET", "/monitor/health/").status == 200

            wait_for(recovered, 30, "the API and health to recover after the thaw", web.log)
            for what, answer in fire(web, keys, WORKERS * THREADS):
                assert isinstance(answer, Answer) and answer.status in (200, 201), (what, answer)
            assert web.proc.poll() is None and web.booted_workers() == WORKERS, "no worker may have been replaced"
    slowest = max(a.seconds for _, a in flood)
    print(f"\nfrozen: slowest 503 {slowest:.2f}s; health {health.seconds:.2f}s, anonymous {anonymous.seconds:.2f}s")


# --- A read-only database (SET GLOBAL read_only=1; the app's user has no SUPER) -----------------


@pytest.mark.redis
def test_a_read_only_database_keeps_serving_reads_refuses_writes_with_503_and_fails_health(
    mariadb_template, tmp_path, redis_url
):
    with private_mariadb(mariadb_template, tmp_path) as db:
        database_url = provision_app_user(db)
        keys = seed(db)
        with production_web(tmp_path, database_url, redis_url) as web:

            def store(value: float) -> Answer:
                return web.call("POST", "/monitor/resources/", {"name": "faults.ro", "value": value}, keys.write)

            assert store(1.0).status == 201
            with db.connect() as root:
                root.cursor().execute("SET GLOBAL read_only = 1")
                # Tokens not used for over a minute: authentication would record a use now.
                root.cursor().execute(f"UPDATE {MARIADB_DATABASE}.monitor_apitoken SET last_used_at = NULL")
                root.commit()

            for _ in range(WORKERS * 3):  # every worker, several times
                read = web.call("GET", "/monitor/resources/?name=faults.ro", token=keys.read)
                assert read.status == 200, read
                assert [r["value"] for r in read.body["results"]] == [1.0]
            write = store(2.0)
            assert write.status == 503 and write.is_json, write
            assert write.body["detail"].startswith("The database is read-only"), write
            assert int(write.headers["retry-after"]) > 0
            health = web.call("GET", "/monitor/health/", token=keys.read)
            assert health.status == 503 and health.body["failed"] == ["database"], health
            assert health.body["checks"]["database"]["state"] == "read_only", health
            anonymous = web.call("GET", "/monitor/health/")
            assert anonymous.status == 503 and anonymous.body == {
                "status": "fail",
                "failed": ["database"],
                "warnings": [],
            }
            # The admin (no DRF view): logging in writes last_login and the session; a 503 that says why.
            login = web.call("GET", "/admin/login/")
            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.raw.decode()).group(1)
            cookie = re.search(r"csrftoken=([^;]+)", login.headers["set-cookie"]).group(1)
            refused = web.call(
                "POST",
                "/admin/login/?next=/admin/",
                form={"username": ADMIN_USER, "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": csrf},
                headers={"Cookie": f"csrftoken={cookie}", "Origin": "https://127.0.0.1"},
            )
            assert refused.status == 503 and refused.raw.decode().startswith("The database is read-only"), refused
            # The refused bookkeeping is logged once per process, not once per request.
            assert 1 <= web.log_text().count("last_used_at not recorded") <= WORKERS

            with db.connect() as root:
                root.cursor().execute("SET GLOBAL read_only = 0")
            time.sleep(1.1)  # health's answer about the database is reused for a second
            assert store(3.0).status == 201
            assert web.call("GET", "/monitor/health/").status == 200
            values = web.call("GET", "/monitor/resources/?name=faults.ro", token=keys.read).body["results"]
            assert sorted(r["value"] for r in values) == [1.0, 3.0]
