"""The MySQL/MariaDB collector, checked against what the real server reports.

Other clients may use the server while these tests run, so figures that move
(connections, pages) are compared within a tolerance and rates by lower bounds.
"""

import logging
import socket
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import MySQLdb
import pytest

from monitor.collection.collectors.base import Sample
from monitor.collection.collectors.mysql import _replication, collect_mysql
from servers import connect_mysql, scratch_name

pytestmark = pytest.mark.mysql

RATE_METRICS = (
    "queries_per_second",
    "slow_queries_per_second",
    "aborted_connects_per_second",
    "aborted_clients_per_second",
    "bytes_received_per_second",
    "bytes_sent_per_second",
    "innodb_rows_read_per_second",
    "innodb_rows_inserted_per_second",
    "innodb_rows_updated_per_second",
    "innodb_rows_deleted_per_second",
    "created_tmp_disk_tables_per_second",
)


def _server(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 3306}"


def _connect(url: str) -> MySQLdb.Connection:
    return connect_mysql(url, connect_timeout=2)


def _global_status(url: str) -> dict[str, str]:
    connection = _connect(url)
    try:
        cursor = connection.cursor()
        cursor.execute("SHOW GLOBAL STATUS")
        return {name.lower(): value for name, value in cursor.fetchall()}
    finally:
        connection.close()


def _values(samples: list[Sample], url: str) -> dict[str, float]:
    """Sample values keyed by metric, with the `:host:port` suffix checked and dropped."""
    suffix = ":" + _server(url)
    assert all(sample.name.endswith(suffix) for sample in samples)
    return {sample.name.removeprefix("mysql.").removesuffix(suffix): sample.value for sample in samples}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener completes TCP connections (the kernel's backlog does) but never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.fixture
def scratch_database(mysql_url: str) -> Iterator[str]:
    name = scratch_name("collector")
    connection = _connect(mysql_url)
    cursor = connection.cursor()
    cursor.execute(f"CREATE DATABASE `{name}`")
    try:
        yield name
    finally:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        connection.close()


def test_a_reachable_server_reports_up_with_host_and_port_in_every_name(mysql_url: str) -> None:
    samples = collect_mysql(mysql_url).samples

    values = _values(samples, mysql_url)
    assert values["up"] == 1.0
    assert all(sample.description for sample in samples)
    assert len({sample.name for sample in samples}) == len(samples)


def test_threads_connected_matches_show_global_status(mysql_url: str) -> None:
    values = _values(collect_mysql(mysql_url).samples, mysql_url)
    status = _global_status(mysql_url)

    assert values["threads_connected"] == pytest.approx(float(status["threads_connected"]), abs=5)
    assert 1 <= values["threads_running"] <= values["threads_connected"]


def test_max_connections_matches_server_variable(mysql_url: str) -> None:
    connection = _connect(mysql_url)
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT @@GLOBAL.max_connections")
        (max_connections,) = cursor.fetchone()
    finally:
        connection.close()

    values = _values(collect_mysql(mysql_url).samples, mysql_url)

    assert values["max_connections"] == float(max_connections)
    assert values["connections_used_percent"] == pytest.approx(
        100.0 * values["threads_connected"] / values["max_connections"]
    )


def test_uptime_and_slow_queries_match_show_global_status(mysql_url: str) -> None:
    values = _values(collect_mysql(mysql_url).samples, mysql_url)
    status = _global_status(mysql_url)

    assert values["uptime_seconds"] == pytest.approx(float(status["uptime"]), abs=3)
    assert values["slow_queries"] <= float(status["slow_queries"])


def test_rates_appear_on_second_cycle_and_are_never_negative(mysql_url: str) -> None:
    first_cycle = collect_mysql(mysql_url)
    time.sleep(0.05)
    second = _values(collect_mysql(mysql_url, first_cycle.counters).samples, mysql_url)
    first = _values(first_cycle.samples, mysql_url)

    assert not [name for name in first if name.endswith("_per_second")]
    for metric in RATE_METRICS:
        assert metric in second, metric
        assert second[metric] >= 0.0, metric


def test_queries_per_second_counts_the_statements_run_between_cycles(mysql_url: str) -> None:
    started = time.monotonic()
    first = collect_mysql(mysql_url)
    connection = _connect(mysql_url)
    try:
        cursor = connection.cursor()
        for _ in range(200):
            cursor.execute("SELECT 1")
    finally:
        connection.close()
    values = _values(collect_mysql(mysql_url, first.counters).samples, mysql_url)
    # The collector's interval lies inside this window, so rate * window bounds the count from above.
    window = time.monotonic() - started

    assert values["queries_per_second"] * window >= 200
    assert values["bytes_received_per_second"] * window >= 200 * len("SELECT 1")


def test_row_rates_count_the_rows_written_between_cycles(mysql_url: str, scratch_database: str) -> None:
    connection = _connect(mysql_url)
    cursor = connection.cursor()
    cursor.execute(f"CREATE TABLE `{scratch_database}`.t (id INT PRIMARY KEY, n INT) ENGINE=InnoDB")
    started = time.monotonic()
    first = collect_mysql(mysql_url)
    try:
        cursor.executemany(f"INSERT INTO `{scratch_database}`.t VALUES (%s, 0)", [(i,) for i in range(300)])
        cursor.execute(f"UPDATE `{scratch_database}`.t SET n = 1 WHERE id < 100")
        cursor.execute(f"DELETE FROM `{scratch_database}`.t WHERE id >= 250")
        cursor.execute(f"SELECT COUNT(*) FROM `{scratch_database}`.t WHERE n = 0")
        connection.commit()
    finally:
        connection.close()
    values = _values(collect_mysql(mysql_url, first.counters).samples, mysql_url)
    window = time.monotonic() - started

    assert values["innodb_rows_inserted_per_second"] * window >= 300
    assert values["innodb_rows_updated_per_second"] * window >= 100
    assert values["innodb_rows_deleted_per_second"] * window >= 50
    assert values["innodb_rows_read_per_second"] * window >= 100


def test_buffer_pool_figures_match_show_global_status(mysql_url: str) -> None:
    values = _values(collect_mysql(mysql_url).samples, mysql_url)
    status = _global_status(mysql_url)

    total, free = float(status["innodb_buffer_pool_pages_total"]), float(status["innodb_buffer_pool_pages_free"])
    assert values["buffer_pool_pages_used_percent"] == pytest.approx(100.0 * (total - free) / total, abs=1)
    assert values["buffer_pool_pages_data"] == pytest.approx(float(status["innodb_buffer_pool_pages_data"]), rel=0.1)
    # First cycle: no interval yet, so the ratio covers the server's whole life.
    reads, requests = float(status["innodb_buffer_pool_reads"]), float(status["innodb_buffer_pool_read_requests"])
    assert values["buffer_pool_hit_ratio"] == pytest.approx(100.0 * (1 - reads / requests), abs=1)


def test_buffer_pool_hit_ratio_covers_only_the_last_interval(mysql_url: str) -> None:
    server = _server(mysql_url)
    previous = collect_mysql(mysql_url).counters
    # Pretend the previous cycle saw a million fewer logical reads, 100,000 of them from disk.
    reads, at = previous[f"mysql.innodb_buffer_pool_reads:{server}"]
    requests, _ = previous[f"mysql.innodb_buffer_pool_read_requests:{server}"]
    previous[f"mysql.innodb_buffer_pool_reads:{server}"] = (reads - 100_000, at)
    previous[f"mysql.innodb_buffer_pool_read_requests:{server}"] = (requests - 1_000_000, at)

    values = _values(collect_mysql(mysql_url, previous).samples, mysql_url)

    # 90%: far more reads than other clients can add meanwhile, so their share is noise.
    assert 0.0 <= values["buffer_pool_hit_ratio"] <= 100.0
    assert values["buffer_pool_hit_ratio"] == pytest.approx(90.0, abs=1)


def test_a_counter_reset_yields_no_negative_rate(mysql_url: str) -> None:
    server = _server(mysql_url)
    before = time.time() - 10
    previous = {f"mysql.{metric}:{server}": (10**15, before) for metric in RATE_METRICS}

    reset = collect_mysql(mysql_url, previous)
    next_cycle = _values(collect_mysql(mysql_url, reset.counters).samples, mysql_url)
    after_reset = _values(reset.samples, mysql_url)

    assert not [metric for metric in RATE_METRICS if metric in after_reset]
    assert all(next_cycle[metric] >= 0.0 for metric in RATE_METRICS)


def test_a_primary_reports_no_replication_metrics(mysql_url: str) -> None:
    connection = _connect(mysql_url)
    try:
        cursor = connection.cursor()
        cursor.execute("SHOW SLAVE STATUS")
        if cursor.fetchone() is not None:
            pytest.skip("the test server is a replica")
    finally:
        connection.close()

    values = _values(collect_mysql(mysql_url).samples, mysql_url)

    assert not [name for name in values if name.startswith("replication_")]


@pytest.mark.parametrize(
    "row",
    [
        {"Seconds_Behind_Master": 7, "Slave_IO_Running": "Yes", "Slave_SQL_Running": "No"},
        {"Seconds_Behind_Source": 7, "Replica_IO_Running": "Yes", "Replica_SQL_Running": "No"},
    ],
    ids=["mariadb-and-old-mysql-columns", "mysql-8-columns"],
)
def test_a_replica_row_of_either_spelling_gives_lag_and_thread_state(row: dict) -> None:
    values = {sample.name: sample.value for sample in _replication(row, "db2:3306")}

    assert values == {
        "mysql.replication_lag_seconds:db2:3306": 7.0,
        "mysql.replication_io_running:db2:3306": 1.0,
        "mysql.replication_sql_running:db2:3306": 0.0,
    }


def test_a_replica_with_unknown_lag_reports_threads_but_no_lag() -> None:
    row = {"Seconds_Behind_Master": None, "Slave_IO_Running": "Connecting", "Slave_SQL_Running": "Yes"}

    values = {sample.name: sample.value for sample in _replication(row, "db2:3306")}

    assert values == {"mysql.replication_io_running:db2:3306": 0.0, "mysql.replication_sql_running:db2:3306": 1.0}


def test_an_account_without_replication_privilege_still_reports_up_and_leaves_no_connection(
    mysql_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    user, password = scratch_name("mon"), uuid.uuid4().hex
    parts = urlsplit(mysql_url)
    admin = _connect(mysql_url)
    cursor = admin.cursor()
    cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
    try:
        url = f"mysql://{user}:{password}@{parts.hostname}:{parts.port or 3306}/"
        with caplog.at_level(logging.WARNING, logger="monitor.collection.collectors.mysql"):
            for _ in range(3):
                values = _values(collect_mysql(url).samples, url)
                assert values["up"] == 1.0
                assert "threads_connected" in values
        assert "replica status" in caplog.text

        # The server ends a closed session asynchronously; give it a moment.
        deadline = time.monotonic() + 2
        while True:
            cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
            (open_sessions,) = cursor.fetchone()
            if open_sessions == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert open_sessions == 0
    finally:
        cursor.execute("DROP USER %s@'%%'", (user,))
        admin.close()


def test_unreachable_server_reports_up_zero_and_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    port = _closed_port()

    with caplog.at_level(logging.WARNING, logger="monitor.collection.collectors.mysql"):
        samples = collect_mysql(f"mysql://root@127.0.0.1:{port}/", timeout=1.0).samples

    assert [(sample.name, sample.value) for sample in samples] == [(f"mysql.up:127.0.0.1:{port}", 0.0)]
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"127.0.0.1:{port}" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()


def test_it_returns_within_the_timeout_when_the_server_never_answers(silent_port: int) -> None:
    started = time.monotonic()
    samples = collect_mysql(f"mysql://root@127.0.0.1:{silent_port}/", timeout=1.0).samples
    elapsed = time.monotonic() - started

    assert elapsed < 2.0
    assert [(sample.name, sample.value) for sample in samples] == [(f"mysql.up:127.0.0.1:{silent_port}", 0.0)]


def test_a_url_that_is_not_mysql_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        collect_mysql("postgres://127.0.0.1:5432/")


def _server_clock(url: str) -> float:
    connection = _connect(url)
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT @@timestamp")
        return float(cursor.fetchone()[0])
    finally:
        connection.close()


def test_counters_are_dated_by_the_servers_clock_and_rates_divide_by_its_span(mysql_url: str) -> None:
    # Workers on other machines read the same server in turn: the server's clock is the one they share.
    before = _server_clock(mysql_url)
    first = collect_mysql(mysql_url)
    between = _server_clock(mysql_url)
    second = collect_mysql(mysql_url, first.counters)
    after = _server_clock(mysql_url)

    ((t0,),) = [{at for _, at in first.counters.values()}]
    ((t1,),) = [{at for _, at in second.counters.values()}]
    assert before <= t0 <= between <= t1 <= after
    name = f"mysql.queries_per_second:{_server(mysql_url)}"
    rate = {s.name: s.value for s in second.samples}[name]
    assert rate == (second.counters[name][0] - first.counters[name][0]) / (t1 - t0)


def test_a_server_that_is_down_leaves_no_readings_so_the_cycle_after_has_no_rates() -> None:
    url = f"mysql://root@127.0.0.1:{_closed_port()}/"
    assert collect_mysql(url, timeout=1.0).counters == {}
