"""MySQL/MariaDB server metrics read from the server's own status counters.

Talks to the server with MySQLdb directly rather than through the Django ORM: the
monitored server is not our own database, and one short-lived connection with hard
timeouts keeps a slow or dead server from holding a worker.
"""

import logging
import math
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import MySQLdb

from .base import Collected, Counters, RateTracker, Sample, gauge_samples, number, rate_samples

logger = logging.getLogger(__name__)

DEFAULT_PORT = 3306
# Error numbers from 2000 up are raised by the client library (lost connection,
# timeout, server gone); below that the server answered and refused the statement.
CLIENT_ERROR_MIN = 2000

# (metric, status variable, what it counts): reported as a per-second rate.
RATE_COUNTERS = (
    ("queries_per_second", "questions", "statements sent by clients"),
    ("slow_queries_per_second", "slow_queries", "queries slower than long_query_time"),
    ("aborted_connects_per_second", "aborted_connects", "failed connection attempts"),
    ("aborted_clients_per_second", "aborted_clients", "connections dropped without a proper close"),
    ("bytes_received_per_second", "bytes_received", "bytes received from clients"),
    ("bytes_sent_per_second", "bytes_sent", "bytes sent to clients"),
    ("innodb_rows_read_per_second", "innodb_rows_read", "InnoDB rows read"),
    ("innodb_rows_inserted_per_second", "innodb_rows_inserted", "InnoDB rows inserted"),
    ("innodb_rows_updated_per_second", "innodb_rows_updated", "InnoDB rows updated"),
    ("innodb_rows_deleted_per_second", "innodb_rows_deleted", "InnoDB rows deleted"),
    ("created_tmp_disk_tables_per_second", "created_tmp_disk_tables", "internal temporary tables written to disk"),
)

# MariaDB 10.6+ dropped the Innodb_rows_* counters. There the server-wide row
# counters stand in: they count every engine, but on a server of InnoDB tables the
# difference is the few rows of the Aria/MyISAM system tables.
ROW_COUNTER_FALLBACKS = {
    "innodb_rows_read": "rows_read",
    "innodb_rows_inserted": "handler_write",
    "innodb_rows_updated": "handler_update",
    "innodb_rows_deleted": "handler_delete",
}

# (metric, status variable, description with unit): reported as read.
GAUGES = (
    ("uptime_seconds", "uptime", "seconds since the server started"),
    ("threads_connected", "threads_connected", "open client connections (count)"),
    ("threads_running", "threads_running", "threads executing a statement (count)"),
    ("slow_queries", "slow_queries", "slow queries since the server started (count)"),
    ("buffer_pool_pages_data", "innodb_buffer_pool_pages_data", "InnoDB buffer pool pages holding data (pages)"),
)


def collect_mysql(url: str, previous: Counters | None = None, timeout: float = 2.0) -> Collected:
    """Read one server's status once; a down server is reported as `mysql.up` 0, never raised.

    `url` is `mysql://user:pass@host:port/dbname`. Names carry `host:port` after a
    colon so several servers stay apart. Rates are against `previous`, this
    server's counters from its last cycle, over the time between the two
    readings on the server's own clock, whichever worker read them. A down
    server returns no counters, so the cycle after it has no rates rather than
    rates over two intervals. A malformed URL is a configuration mistake, not
    an outage, and raises ValueError.
    """
    options, server = _connection_options(url)
    try:
        status, max_connections, replica, read_at = _read_server(options, timeout)
    except MySQLdb.Error as exc:
        logger.warning("mysql %s: down or query failed: %s", server, _one_line(exc))
        return Collected([_up(server, 0.0)])
    tracker = RateTracker(previous)

    samples = [_up(server, 1.0), *gauge_samples("mysql", server, GAUGES, status)]
    samples += _connections(status, max_connections, server)
    rates = []
    for metric, variable, description in RATE_COUNTERS:
        counter = number(status.get(variable))
        if counter is None and variable in ROW_COUNTER_FALLBACKS:
            counter = number(status.get(ROW_COUNTER_FALLBACKS[variable]))
            description = description.replace("InnoDB rows", "rows (all engines)")
        if counter is None:
            continue
        rates.append((f"mysql.{metric}:{server}", counter, description))
    samples += rate_samples(tracker, read_at, rates)
    samples += _buffer_pool(status, tracker, server, read_at)
    if replica is not None:
        samples += _replication(replica, server)
    return Collected(samples, tracker.current)


def server_label(url: str) -> str:
    """`host:port` of the server at `url`, as it appears in metric names (never the credentials)."""
    return _connection_options(url)[1]


def _connection_options(url: str) -> tuple[dict[str, Any], str]:
    """MySQLdb.connect keyword arguments and the `host:port` label for `url`."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb"):
        raise ValueError(f"not a mysql:// URL: {url!r}")
    host = parts.hostname or "127.0.0.1"
    port = parts.port or DEFAULT_PORT
    options: dict[str, Any] = {"host": host, "port": port}
    if parts.username:
        options["user"] = unquote(parts.username)
    if parts.password:
        options["password"] = unquote(parts.password)
    database = unquote(parts.path.lstrip("/"))
    if database:
        options["database"] = database
    return options, f"{host}:{port}"


def _read_server(
    options: dict[str, Any], timeout: float
) -> tuple[dict[str, str], float | None, dict[str, Any] | None, float]:
    """Status counters, max_connections, the replica row and the server's clock when it answered."""
    # The client library takes whole seconds; round up so a fractional timeout is
    # never turned into 0, which would mean "wait forever".
    seconds = max(1, math.ceil(timeout))
    connection = MySQLdb.connect(**options, connect_timeout=seconds, read_timeout=seconds, write_timeout=seconds)
    try:
        cursor = connection.cursor()
        cursor.execute("SHOW GLOBAL STATUS")
        # Older servers spell some names in capitals; compare in lower case.
        status = {str(name).lower(): value for name, value in cursor.fetchall()}
        # The server's own clock (@@timestamp: seconds since the epoch, with
        # microseconds) dates the counters: rates are then comparable whichever
        # worker, on whichever machine, read them. Same round trip as the limit.
        cursor.execute("SELECT @@GLOBAL.max_connections, @@timestamp")
        row = cursor.fetchone() or (None, None)
        max_connections = number(row[0])
        read_at = number(row[1]) or time.time()
        replica = _replica_status(cursor, f"{options['host']}:{options['port']}")
    finally:
        connection.close()
    return status, max_connections, replica, read_at


def _replica_status(cursor: Any, server: str) -> dict[str, Any] | None:
    """The replica status row, or None on a primary or when we may not read it."""
    # SHOW REPLICA STATUS exists from MariaDB 10.5 / MySQL 8.0.22; older servers
    # reject it as a syntax error and know only the SLAVE spelling.
    for statement in ("SHOW REPLICA STATUS", "SHOW SLAVE STATUS"):
        try:
            cursor.execute(statement)
        except MySQLdb.ProgrammingError:
            continue
        except MySQLdb.OperationalError as exc:
            if exc.args and isinstance(exc.args[0], int) and exc.args[0] < CLIENT_ERROR_MIN:
                # A monitoring account without REPLICA MONITOR / REPLICATION CLIENT:
                # the server itself is fine, so report it up without replication figures.
                logger.warning("mysql %s: cannot read replica status: %s", server, _one_line(exc))
                return None
            raise
        row = cursor.fetchone()
        if row is None:
            return None
        return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}
    return None


def _connections(status: dict[str, str], max_connections: float | None, server: str) -> list[Sample]:
    if max_connections is None:
        return []
    samples = [Sample(f"mysql.max_connections:{server}", max_connections, "connection limit (count)")]
    connected = number(status.get("threads_connected"))
    if connected is not None and max_connections > 0:
        samples.append(
            Sample(
                f"mysql.connections_used_percent:{server}",
                100.0 * connected / max_connections,
                "open connections as a share of max_connections (percent)",
            )
        )
    return samples


def _buffer_pool(status: dict[str, str], tracker: RateTracker, server: str, now: float) -> list[Sample]:
    samples: list[Sample] = []
    reads = number(status.get("innodb_buffer_pool_reads"))
    requests = number(status.get("innodb_buffer_pool_read_requests"))
    if reads is not None and requests is not None:
        # Over the last interval, so a change in the workload shows at once instead of
        # being averaged away by months of uptime. The first cycle (and the one after a
        # restart) has no interval, so it falls back to the totals since start-up.
        delta_reads = tracker.delta(f"mysql.innodb_buffer_pool_reads:{server}", reads, now)
        delta_requests = tracker.delta(f"mysql.innodb_buffer_pool_read_requests:{server}", requests, now)
        if delta_reads is None or delta_requests is None:
            delta_reads, delta_requests = reads, requests
        # No logical reads at all in the interval: there is no ratio to report.
        if delta_requests > 0:
            ratio = _clamp_percent(100.0 * (1.0 - delta_reads / delta_requests))
            samples.append(
                Sample(
                    f"mysql.buffer_pool_hit_ratio:{server}",
                    ratio,
                    "InnoDB page reads served from the buffer pool, not disk (percent)",
                )
            )
    total = number(status.get("innodb_buffer_pool_pages_total"))
    free = number(status.get("innodb_buffer_pool_pages_free"))
    if total and free is not None:
        samples.append(
            Sample(
                f"mysql.buffer_pool_pages_used_percent:{server}",
                _clamp_percent(100.0 * (total - free) / total),
                "InnoDB buffer pool pages not free (percent)",
            )
        )
    return samples


def _replication(row: dict[str, Any], server: str) -> list[Sample]:
    """Lag and thread state from a SHOW REPLICA/SLAVE STATUS row (either column spelling)."""
    samples: list[Sample] = []
    lag = _first(row, "Seconds_Behind_Master", "Seconds_Behind_Source")
    # NULL means the SQL thread is not running, so the lag is unknown, not zero.
    lag_seconds = number(lag)
    if lag_seconds is not None:
        samples.append(
            Sample(f"mysql.replication_lag_seconds:{server}", lag_seconds, "replica delay behind its primary (seconds)")
        )
    io_running = _first(row, "Slave_IO_Running", "Replica_IO_Running")
    sql_running = _first(row, "Slave_SQL_Running", "Replica_SQL_Running")
    samples += [
        Sample(f"mysql.replication_io_running:{server}", _yes(io_running), "replica I/O thread running (1) or not (0)"),
        Sample(
            f"mysql.replication_sql_running:{server}", _yes(sql_running), "replica SQL thread running (1) or not (0)"
        ),
    ]
    return samples


def _up(server: str, value: float) -> Sample:
    return Sample(f"mysql.up:{server}", value, "server answered all status queries (1) or not (0)")


def _first(row: dict[str, Any], *columns: str) -> Any:
    for column in columns:
        if column in row:
            return row[column]
    return None


def _yes(value: Any) -> float:
    # "Connecting" (retrying the primary) counts as not running: no events flow.
    return 1.0 if str(value).strip().lower() == "yes" else 0.0


def _clamp_percent(value: float) -> float:
    return max(0.0, min(100.0, value))


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
