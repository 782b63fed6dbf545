"""The production worker keeps its database connection between cycles, and gets a new one after a restart.

Celery's Django fixup closed every connection before and after each task: a
MySQL connect per cycle, every second at METRICS_INTERVAL=1. The worker now
keeps it (CELERY_DB_REUSE_MAX) and, before each task, drops one that broke or
outlived CONN_MAX_AGE, as Django does before each web request
(monitor/collection/tasks.py). Runs the Procfile's worker command and beat
against a private MariaDB (its global `Connections` counter sees only us) and a
private Redis.
"""

import shlex
import time

import pytest

from procs import CELERY, ROOT, beat_args, broker_at, child_env, running, wait_for
from servers import MARIADB_DATABASE, private_mariadb, private_redis

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.redis]

HOST = "db-connection-worker"


def procfile_worker(name: str) -> list[str]:
    """The Procfile's worker command, with this venv's celery and a node name of the test's."""
    line = next(x for x in (ROOT / "Procfile").read_text().splitlines() if x.startswith("worker:"))
    args = [CELERY if a.endswith("bin/celery") else a for a in shlex.split(line.split(":", 1)[1])]
    return [name if a.startswith("worker@") else a for a in args]


def scalar(db, sql: str) -> int:
    with db.connect(db=MARIADB_DATABASE) as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        return int(cursor.fetchone()[-1])


def host_cycles(db) -> int:
    return scalar(
        db,
        "SELECT COUNT(*) FROM monitor_sample s JOIN monitor_series r ON r.id = s.series_id"
        f" WHERE r.host = '{HOST}' AND r.name = 'memory.used_percent'",
    )


def test_the_worker_reuses_its_connection_and_replaces_it_after_a_database_restart(mariadb_template, tmp_path):
    log = tmp_path / "worker.log"
    with private_mariadb(mariadb_template, tmp_path) as db, private_redis(tmp_path) as redis, broker_at(redis.url()):
        env = child_env(
            tmp_path,
            DATABASE_URL=db.url(),
            CELERY_BROKER_URL=redis.url(),
            MONITOR_HOSTNAME=HOST,
            METRICS_INTERVAL="1",
            SERVER_METRICS_INTERVAL="86400",  # host cycles only: the MySQL collector connects on its own
            MONITOR_MYSQL_URLS="",
            MONITOR_REDIS_URLS="",
        )
        worker = procfile_worker("dbconn@testhost")
        with running(worker, env, log) as proc, running(beat_args(tmp_path), env, tmp_path / "beat.log"):
            wait_for(lambda: host_cycles(db) >= 3, 60, "three stored host cycles", log)

            # Six cycles. Each `scalar` call is one connection of the test's own (three after the first
            # reading, the last counting itself); nothing else connects to this server.
            connections = scalar(db, "SHOW GLOBAL STATUS LIKE 'Connections'")
            cycles = host_cycles(db)
            time.sleep(6)
            assert host_cycles(db) >= cycles + 4
            new = scalar(db, "SHOW GLOBAL STATUS LIKE 'Connections'") - connections - 3
            assert new == 0, f"the worker opened {new} database connections in 6 cycles"

            db.stop()
            time.sleep(2)  # cycles fail meanwhile: no server
            db.start()
            before = host_cycles(db)
            wait_for(lambda: host_cycles(db) >= before + 3, 30, "cycles stored after the restart", log)
            assert proc.poll() is None, "the worker recovered without being restarted"
