"""`migrate` moves an installation's samples from the old one-table layout into the new storage.

The copy runs in batches with a progress line each, survives being killed part
way (the next `migrate` carries on where it stopped) and ends with the same
samples, series and rollups as if they had arrived through the API. On MySQL
with 1,000,000 old rows, as an installation of a few weeks holds; on SQLite
with fewer.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from procs import ROOT
from servers import connect_mysql, mysql_database_url, scratch_name

OLD = "0008_counter_state"  # the last migration of the one-table layout
HOSTS, NAMES = 10, 100


def manage(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def old_rows_sql(steps: int) -> str:
    """INSERT ... SELECT of HOSTS x NAMES series, `steps` cycles of 10 s each, as the old table held them."""
    return (
        "INSERT INTO monitor_resource (name, value, description, timestamp, host)"
        " SELECT CONCAT('metric.', n.seq), ROUND(50 + 40 * SIN(t.seq / 36 + n.seq), 3), 'old',"
        " TIMESTAMPADD(SECOND, t.seq * 10, TIMESTAMP '2026-11-20 00:00:00'), CONCAT('host-', h.seq)"
        f" FROM seq_0_to_{steps - 1} t CROSS JOIN seq_0_to_{HOSTS - 1} h CROSS JOIN seq_0_to_{NAMES - 1} n"
        " ORDER BY t.seq, h.seq, n.seq"
    )


@pytest.fixture
def scratch_mysql(mysql_url, tmp_path):
    name = scratch_name("migrate")
    admin = connect_mysql(mysql_url, autocommit=True)
    admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    url = mysql_database_url(mysql_url, name)
    env = {**os.environ, "DATABASE_URL": url, "VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    try:
        yield env, admin, name
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def count(admin, database: str, sql: str) -> int:
    cursor = admin.cursor()
    cursor.execute(f"USE `{database}`")
    cursor.execute(sql)
    return int(cursor.fetchone()[0])


@pytest.mark.mysql
@pytest.mark.slow
def test_a_million_old_rows_move_over_in_batches_and_a_killed_copy_resumes(scratch_mysql):
    env, admin, database = scratch_mysql
    assert manage(env, "migrate", "monitor", OLD).returncode == 0
    steps = 1_000_000 // (HOSTS * NAMES)
    cursor = admin.cursor()
    cursor.execute(f"USE `{database}`")
    cursor.execute(old_rows_sql(steps))
    # Two samples of one series at one instant: the old table allowed it, the new one keeps the first.
    cursor.execute(
        "INSERT INTO monitor_resource (name, value, description, timestamp, host)"
        " VALUES ('metric.0', -1, 'old', TIMESTAMP '2026-11-20 00:00:00', 'host-0')"
    )
    old = count(admin, database, "SELECT COUNT(*) FROM monitor_resource")
    assert old == 1_000_001

    # Start the copy, let a few batches commit, then kill it outright.
    with subprocess.Popen(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as first:
        lines = []
        for line in first.stdout:
            lines.append(line)
            if len(re.findall(r"rows \(\d+%\)", "".join(lines))) >= 3:
                break
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
    copied_before = count(admin, database, "SELECT copied FROM monitor_storagecopy")
    stored_before = count(admin, database, "SELECT COUNT(*) FROM monitor_sample")
    assert 0 < copied_before < old
    assert stored_before == copied_before  # each batch commits with its position, or not at all

    started = time.monotonic()
    second = manage(env, "migrate", "--noinput")
    elapsed = time.monotonic() - started
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"({copied_before:,} copied before)" in second.stdout
    assert "100%" in second.stdout
    assert "1 repeats of a series at one instant kept once" in second.stdout

    assert count(admin, database, "SELECT COUNT(*) FROM monitor_sample") == old - 1
    assert count(admin, database, "SELECT COUNT(*) FROM monitor_series") == HOSTS * NAMES
    assert count(admin, database, "SELECT SUM(count) FROM monitor_rollup WHERE step = 60") == old - 1
    assert count(admin, database, "SELECT SUM(count) FROM monitor_rollup WHERE step = 3600") == old - 1
    # The old table is gone; its name is now the view over the new tables.
    assert count(admin, database, "SELECT COUNT(*) FROM monitor_resource") == old - 1
    assert count(admin, database, "SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()") == 1
    # The first sample of the clashing pair won.
    assert (
        count(
            admin,
            database,
            "SELECT COUNT(*) FROM monitor_resource WHERE name = 'metric.0' AND host = 'host-0'"
            " AND timestamp = TIMESTAMP '2026-11-20 00:00:00' AND value <> -1",
        )
        == 1
    )
    rate = (old - copied_before) / elapsed
    print(
        f"\nmigration: {old:,} rows, killed after {copied_before:,}; the rest at {rate:,.0f} rows/s ({elapsed:.1f} s)"
    )


@pytest.mark.mysql
@pytest.mark.slow
def test_rows_from_1970_and_values_the_api_refuses_do_not_stop_the_upgrade(scratch_mysql):
    env, admin, database = scratch_mysql
    assert manage(env, "migrate", "monitor", OLD).returncode == 0
    cursor = admin.cursor()
    cursor.execute(f"USE `{database}`")
    cursor.execute(
        "INSERT INTO monitor_resource (name, value, description, timestamp, host) VALUES"
        " ('clock.reset', 1, '', TIMESTAMP '1970-01-01 00:00:01', 'h'),"
        " ('cpu.percent', 5, '', UTC_TIMESTAMP(6), 'h'),"
        " ('huge', 1e308, '', TIMESTAMP '2026-11-20 00:00:10', 'h'),"
        " ('huge', 1e308, '', TIMESTAMP '2026-11-20 00:00:20', 'h')"
    )
    upgrade = manage(env, "migrate", "--noinput")
    assert upgrade.returncode == 0, upgrade.stdout[-3000:] + upgrade.stderr[-3000:]
    assert "2 samples beyond +-1e300 (or not finite) left out" in upgrade.stdout
    assert count(admin, database, "SELECT COUNT(*) FROM monitor_sample") == 2
    assert count(admin, database, "SELECT COUNT(*) FROM monitor_resource WHERE name = 'clock.reset'") == 1
    partitions = count(
        admin,
        database,
        "SELECT COUNT(*) FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE()"
        " AND TABLE_NAME = 'monitor_sample'",
    )
    assert partitions <= 1010  # HISTORY's 1,001 days and a few ahead, not one a day since 1970


@pytest.mark.slow
def test_on_sqlite_the_old_rows_move_over_too(tmp_path):
    database = tmp_path / "old.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "VAR_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    assert manage(env, "migrate", "monitor", OLD).returncode == 0
    import sqlite3

    with sqlite3.connect(database) as conn:
        conn.executemany(
            "INSERT INTO monitor_resource (name, value, description, timestamp, host) VALUES (?, ?, ?, ?, ?)",
            [
                (
                    f"metric.{i % 7}",
                    float(i),
                    "old",
                    f"2026-11-20 00:{i // 60 % 60:02d}:{i % 60:02d}.000123",
                    f"h{i % 3}",
                )
                for i in range(12_000)
            ],
        )
    result = manage(env, "migrate", "--noinput")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "copying 12,000 samples" in result.stdout
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT COUNT(*) FROM monitor_sample").fetchone()[0] == 12_000
        assert conn.execute("SELECT COUNT(*) FROM monitor_series").fetchone()[0] == 21
        first = conn.execute("SELECT timestamp FROM monitor_resource ORDER BY timestamp LIMIT 1").fetchone()[0]
    assert first == "2026-11-20 00:00:00.000123"
    assert Path(database).exists()
