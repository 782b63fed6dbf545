"""DATABASE_REPLICA_URL, and how a replica's replication status is judged (test_replica_reads.py runs a real one)."""

import json
import subprocess
import sys

import pytest

from db_django.env import ConfigError, database_from_url, replica_from_url
from monitor.models import Host, Sample
from monitor.storage.router import judge, primary_reads, read_connection, replica_read
from procs import ROOT

PRIMARY = database_from_url("mysql://app:pw@db-1:3306/monitor", ROOT / "unused")


def settings_of(**env: str) -> dict:
    """The settings a process started with `env` gets (or the error it stops with)."""
    code = (
        "import json; from db_django import settings as s; "
        "print(json.dumps({'databases': s.DATABASES, 'routers': s.DATABASE_ROUTERS,"
        " 'monitored': s.MONITOR_MYSQL_URLS, 'lag': s.DATABASE_REPLICA_MAX_LAG}, default=str))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True
    )
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout)


def test_a_replica_url_becomes_the_replica_database_mirrored_in_tests_with_a_short_connect_timeout():
    replica = replica_from_url("mysql://app:pw@db-2:3307/monitor", PRIMARY)
    assert (replica["HOST"], replica["PORT"], replica["NAME"], replica["USER"]) == ("db-2", "3307", "monitor", "app")
    assert replica["OPTIONS"]["connect_timeout"] == 1
    assert replica["OPTIONS"]["read_timeout"] == PRIMARY["OPTIONS"]["read_timeout"]
    assert replica["TEST"] == {"MIRROR": "default"}
    assert replica_from_url("mysql://app@db-2/monitor?connect_timeout=3", PRIMARY)["OPTIONS"]["connect_timeout"] == 3


def test_a_replica_needs_mysql_on_both_sides():
    with pytest.raises(ConfigError, match="DATABASE_REPLICA_URL"):
        replica_from_url("sqlite:///replica.db", PRIMARY)
    with pytest.raises(ConfigError, match="MySQL primary"):
        replica_from_url("mysql://app@db-2/monitor", database_from_url("", ROOT / "var" / "x.sqlite3"))
    with pytest.raises(ConfigError, match="DATABASE_REPLICA_URL has no database name"):
        replica_from_url("mysql://app@db-2/", PRIMARY)


def test_the_settings_add_the_replica_monitor_it_and_check_its_timeouts(tmp_path):
    env = {"VAR_DIR": str(tmp_path), "DATABASE_URL": "mysql://app@db-1/monitor"}
    configured = settings_of(**env, DATABASE_REPLICA_URL="mysql://app@db-2/monitor", DATABASE_REPLICA_MAX_LAG="30")
    assert configured["databases"]["replica"]["HOST"] == "db-2"
    assert configured["routers"] == ["monitor.storage.router.ReplicaRouter"]
    assert configured["monitored"] == ["mysql://app@db-1/monitor", "mysql://app@db-2/monitor"]
    assert configured["lag"] == 30.0
    assert "replica" not in settings_of(**env)["databases"]
    too_short = settings_of(**env, DATABASE_REPLICA_URL="mysql://app@db-2/monitor?read_timeout=2")
    assert "read_timeout of DATABASE_REPLICA_URL" in too_short["error"]
    every_query = settings_of(
        **env, DATABASE_REPLICA_URL="mysql://app@db-2/monitor", DATABASE_REPLICA_CHECK_INTERVAL="0"
    )
    assert "DATABASE_REPLICA_CHECK_INTERVAL must be positive" in every_query["error"]


def mariadb_row(io: str = "Yes", sql: str = "Yes", lag: int | None = 0, error: str = "") -> dict:
    return {"Slave_IO_Running": io, "Slave_SQL_Running": sql, "Seconds_Behind_Master": lag, "Last_SQL_Error": error}


def mysql8_row(io: str = "Yes", sql: str = "Yes", lag: int | None = 0) -> dict:
    return {"Replica_IO_Running": io, "Replica_SQL_Running": sql, "Seconds_Behind_Source": lag}


@pytest.mark.parametrize("row", [mariadb_row(lag=10), mysql8_row(lag=0)])
def test_a_replica_within_the_bound_with_both_threads_running_serves(row):
    assert judge(row, max_lag=10).state == "ok"


@pytest.mark.parametrize("row", [mariadb_row(lag=11), mysql8_row(lag=3600)])
def test_a_replica_beyond_the_bound_is_lagging(row):
    state = judge(row, max_lag=10)
    assert state.state == "lagging" and "behind the primary" in state.error


@pytest.mark.parametrize(
    "row",
    [
        mariadb_row(sql="No", lag=None, error="Duplicate entry"),
        mariadb_row(io="Connecting", lag=0),  # primary unreachable: the lag no longer says anything
        mysql8_row(sql="No", lag=None),
        mariadb_row(lag=None),
        None,  # not a replica, or no privilege to see its status
    ],
)
def test_a_replica_that_does_not_replicate_is_stopped(row):
    state = judge(row, max_lag=10)
    assert state.state == "stopped" and state.error


@pytest.mark.django_db
def test_without_a_replica_every_read_goes_to_the_primary():
    @replica_read
    def where() -> list[str]:
        return [read_connection(Sample).alias, Host.objects.all().db]

    assert where() == ["default", "default"]
    with primary_reads():
        assert where() == ["default", "default"]
