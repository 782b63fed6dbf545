"""How long the app waits on MySQL/MariaDB: seconds when serving, as long as it takes when migrating.

DATABASE_URL connections give up after read_timeout (5 s) and connect_timeout (2 s);
a SELECT of an API request is stopped by the server itself after
DATABASE_STATEMENT_TIMEOUT, below that, so the client gets a clear 503 instead of
a lost connection. See test_faults_database.py for the frozen server behind gunicorn.
"""

import os
import subprocess
import sys
import time
from urllib.parse import unquote, urlsplit

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from db_django.env import database_from_url
from monitor.database import lengthen_timeouts_for_migrate, restore_timeouts_after_migrate
from procs import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def test_mysql_connections_give_up_within_seconds(tmp_path):
    options = database_from_url("mysql://app:pw@db.example:3306/monitor", tmp_path / "x")["OPTIONS"]
    assert (options["connect_timeout"], options["read_timeout"], options["write_timeout"]) == (2, 5, 5)
    options = database_from_url("mysql://app:pw@db.example:3306/monitor?read_timeout=60", tmp_path / "x")["OPTIONS"]
    assert options["read_timeout"] == 60


def test_a_statement_limit_at_or_above_the_read_timeout_stops_start_up(tmp_path):
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": "mysql://app:pw@127.0.0.1:1/monitor?read_timeout=2",
        "DATABASE_STATEMENT_TIMEOUT": "3",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "DATABASE_STATEMENT_TIMEOUT=3 must be below the read_timeout of DATABASE_URL (2 s)" in result.stderr


@pytest.fixture
def table_locked(on_mysql, mysql_url):
    """Another session holds a write lock on the samples table: any read of it waits.

    As TEST_MYSQL_URL's user (root): the application's user has no LOCK TABLES.
    """
    import MySQLdb

    admin = urlsplit(mysql_url)
    other = MySQLdb.connect(
        host=admin.hostname or "127.0.0.1",
        port=admin.port or 3306,
        user=unquote(admin.username or "root"),
        password=unquote(admin.password or ""),
        database=connection.settings_dict["NAME"],
    )
    other.cursor().execute("LOCK TABLES monitor_resource WRITE")
    try:
        yield
    finally:
        other.cursor().execute("UNLOCK TABLES")
        other.close()


def test_an_api_read_that_outlasts_the_statement_time_limit_gets_a_503_saying_so(client, settings, table_locked):
    settings.DATABASE_STATEMENT_TIMEOUT = 0.5
    started = time.monotonic()
    response = client.get("/monitor/resources/")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["detail"].startswith("The query ran longer than its time limit (0.5 s")
    assert int(response["Retry-After"]) > 0
    assert elapsed < 2.5


def test_the_limit_applies_to_the_reads_of_api_requests_only(client, on_mysql):
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/monitor/resources/", {"name": "limits", "value": 1.0}, content_type="application/json")
        assert response.status_code == 201
        assert client.get("/monitor/resources/?name=limits").status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    mariadb = connection.mysql_is_mariadb
    prefix = "SET STATEMENT max_statement_time=3 FOR SELECT" if mariadb else "SELECT /*+ MAX_EXECUTION_TIME(3000) */"
    limited = [sql for sql in statements if sql.startswith(prefix)]
    assert any("monitor_sample" in sql for sql in limited), statements
    assert [sql for sql in statements if sql.startswith("INSERT")], statements  # the write ran as it was
    assert not [sql for sql in limited if "INSERT" in sql]


@pytest.mark.slow
def test_migrate_waits_as_long_as_a_schema_change_takes_then_serving_timeouts_return(on_mysql):
    lengthen_timeouts_for_migrate(using="default")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT SLEEP(6)")  # beyond the serving read_timeout of 5 s
            assert cursor.fetchone() == (0,)
    finally:
        restore_timeouts_after_migrate(using="default")
    started = time.monotonic()
    with pytest.raises(OperationalError) as raised, connection.cursor() as cursor:
        cursor.execute("SELECT SLEEP(6)")
    assert raised.value.args[0] == 2013  # lost connection: the client gave up at read_timeout
    assert time.monotonic() - started < 6
    connection.close()


def test_a_probe_that_cannot_connect_answers_clients_in_plain_words_and_keeps_the_details():
    # Outside testing saw two bodies for one outage: "cannot connect" from a failed query and the
    # driver's raw text from the probe. Clients now get the first; health and logs keep the second.
    from monitor.database import Probe

    def unreachable():
        raise OperationalError(2002, "Can't connect to server on '127.0.0.1' (115)")

    state = Probe(1.0, unreachable).check()
    assert state.down
    assert state.answer == "cannot connect"
    assert "2002" in state.error and "127.0.0.1" in state.error
