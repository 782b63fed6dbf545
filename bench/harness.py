"""What every benchmark shares: the bench databases and their data sets, gunicorn, clients, statistics.

The benchmarks run the project as deployed: gunicorn (sync workers, as in the
README's production command) on MariaDB, under the embedded mode's API policy
(DJANGO_DEBUG=1: see app_env), on databases of their own, all named bench_*:

    bench_db_django   scratch: emptied before each write benchmark (BENCH_DB)
    bench_10m         10,000,000 raw samples with their rollups (BENCH_DATA_DB)
    bench_latest      20,000 series with a latest value each (BENCH_LATEST_DB)

Nothing here touches `db_django` or `test_db_django`. Knobs: BENCH_MYSQL_URL,
BENCH_OUT (results, default /tmp/db_django-bench), BENCH_WORKERS (gunicorn -w,
default 4), BENCH_LOAD=python (no wrk), BENCH_QUIET_LIMIT / BENCH_NOISE_LIMIT /
BENCH_QUIET_WAIT (shared machine).

The 10M data set has the shape of a real deployment: 100 metric names x 10
hosts (1,000 series), one sample per series every 10 s for 27.8 hours, a host's
samples of one cycle sharing an instant. It is generated inside MariaDB
(INSERT ... SELECT over the SEQUENCE engine, series by series in primary-key
order), after the series are created through monitor.storage.catalog and the
tables re-partitioned (monitor.storage.partitions) to cover the data's days.
Rollups are computed from the samples in SQL (minute: count, sum, min, max,
last of each minute; hour: from the minutes; latest value: the last minute's
last). Besides, per-hour rollups for the 29 days before the raw samples (what
remains once raw retention dropped them) are generated directly: 30 days of the
hour tier. Loaded once; a marker row (bench_dataset) says it is complete.
"""

import hashlib
import http.client
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import MySQLdb
import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `bench.settings` for in-process runs

BIN = Path(sys.executable).parent
SCRATCH_DB = os.environ.get("BENCH_DB", "bench_db_django")
DATA_DB = os.environ.get("BENCH_DATA_DB", "bench_10m")
LATEST_DB = os.environ.get("BENCH_LATEST_DB", "bench_latest")
MYSQL = urlsplit(os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/"))
OUT_DIR = Path(os.environ.get("BENCH_OUT", Path(tempfile.gettempdir()) / "db_django-bench"))
OUT_DIR.mkdir(parents=True, exist_ok=True)
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))  # the README's `gunicorn ... -w 4`
US = 1_000_000

# --- the data set shape --------------------------------------------------------------------------
HOSTS = ["web-1", "web-2", "web-3", "web-4", "db-1", "db-2", "cache-1", "worker-1", "worker-2", "worker-3"]


def _metric_names() -> list[str]:
    host = [
        "cpu.percent",
        "cpu.user_percent",
        "cpu.system_percent",
        "cpu.iowait_percent",
        "cpu.steal_percent",
        "cpu.count",
        "load.1m",
        "load.5m",
        "load.15m",
        "memory.total_bytes",
        "memory.available_bytes",
        "memory.used_bytes",
        "memory.used_percent",
        "swap.total_bytes",
        "swap.used_bytes",
        "swap.used_percent",
        "swap.in_bytes_per_second",
        "swap.out_bytes_per_second",
        "processes.total",
        "processes.running",
        "processes.blocked",
        "system.context_switches_per_second",
        "system.uptime_seconds",
    ]
    disk = [f"disk.{m}:{mount}" for mount in ("/", "/var", "/data") for m in ("total_bytes", "used_bytes")]
    disk += [f"disk.{m}:{mount}" for mount in ("/", "/var", "/data") for m in ("free_bytes", "used_percent")]
    disk += [f"disk.inodes_used_percent:{mount}" for mount in ("/", "/var", "/data")]
    diskio = [
        f"diskio.{m}:{dev}"
        for dev in ("sda", "sdb")
        for m in ("read_bytes_per_second", "write_bytes_per_second", "read_ops_per_second", "write_ops_per_second")
    ]
    diskio += ["diskio.busy_percent:sda", "diskio.busy_percent:sdb"]
    net = [
        f"net.{d}_{m}_per_second:{nic}"
        for nic in ("eth0", "eth1")
        for m in ("bytes", "packets", "errors", "drops")
        for d in ("rx", "tx")
    ]
    mysql = [
        f"mysql.{m}:127.0.0.1:3306"
        for m in (
            "up",
            "uptime_seconds",
            "threads_connected",
            "threads_running",
            "max_connections",
            "connections_used_percent",
            "queries_per_second",
            "slow_queries",
            "slow_queries_per_second",
            "aborted_connects_per_second",
            "aborted_clients_per_second",
            "bytes_received_per_second",
            "bytes_sent_per_second",
            "buffer_pool_hit_ratio",
            "buffer_pool_pages_used_percent",
            "buffer_pool_pages_data",
            "innodb_rows_read_per_second",
            "innodb_rows_inserted_per_second",
            "innodb_rows_updated_per_second",
            "innodb_rows_deleted_per_second",
            "created_tmp_disk_tables_per_second",
        )
    ]
    redis = [
        f"redis.{m}:127.0.0.1:6379"
        for m in (
            "up",
            "uptime_seconds",
            "connected_clients",
            "blocked_clients",
            "used_memory_bytes",
            "used_memory_rss_bytes",
            "mem_fragmentation_ratio",
            "ops_per_second",
            "commands_per_second",
            "keyspace_hit_ratio",
            "evicted_keys",
            "expired_keys",
            "evicted_keys_per_second",
            "expired_keys_per_second",
            "rejected_connections",
        )
    ]
    return host + disk + diskio + net + mysql + redis


NAMES = _metric_names()
assert len(NAMES) == 100 and len(set(NAMES)) == 100, len(NAMES)
SERIES = len(NAMES) * len(HOSTS)
STEP_SECONDS = 10  # one collection cycle
DATASET_END = datetime(2026, 11, 25, tzinfo=UTC)  # the newest cycle is 10 s before this
DATASET_SAMPLES = 10_000_000
DATASET_STEPS = DATASET_SAMPLES // SERIES  # 10,000 cycles: 27.8 hours
DATASET_START = DATASET_END - timedelta(seconds=DATASET_STEPS * STEP_SECONDS)
HOUR_TIER_START = DATASET_END - timedelta(days=30)  # the hour tier holds 30 days
DATASET_VERSION = "storage-12.1"  # bump when the loader changes: the data set is rebuilt
LATEST_HOSTS = 200  # x 100 names: 20,000 series in bench_latest
SERIES_PER_STATEMENT = 10  # 10 series x 10,000 cycles: 100,000 rows per INSERT ... SELECT


def description_of(name: str) -> str:
    family = name.split(".", 1)[0]
    return {"cpu": "CPU time", "load": "load average", "mysql": "MariaDB server status"}.get(
        family, f"{family} (collected)"
    )


def host_offset_us(h: int) -> int:
    """Hosts sample at their own moment within the cycle; a host's samples of one cycle share it."""
    return h * 731_000


# --- MariaDB -------------------------------------------------------------------------------------
def database_url(db: str) -> str:
    return f"{MYSQL.scheme}://{MYSQL.netloc}/{db}"


def connect(db: str | None = SCRATCH_DB, **kwargs) -> MySQLdb.Connection:
    params = {
        "host": MYSQL.hostname or "127.0.0.1",
        "port": MYSQL.port or 3306,
        "user": MYSQL.username or "root",
        "passwd": MYSQL.password or "",
        "charset": "utf8mb4",
        "autocommit": True,
    }
    if db:
        params["db"] = db
    params.update(kwargs)
    return MySQLdb.connect(**params)


def mariadb_seconds() -> float:
    """CPU seconds used so far by every MariaDB/MySQL server on this machine (0 when none runs here)."""
    return sum(
        sum(p.cpu_times()[:2]) for p in psutil.process_iter(["name"]) if p.info["name"] in ("mariadbd", "mysqld")
    )


def scalar(conn, sql: str, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
    return row[0] if row else None


def execute(conn, sql: str, args=None) -> int:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.rowcount


def app_env(db: str = SCRATCH_DB) -> dict[str, str]:
    """The environment gunicorn, migrate and in-process runs get: production-like, on a bench database."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=database_url(db),
        # The embedded mode's API policy (the notes' open API: no token, no write throttle,
        # plain HTTP), which the notes' baseline needs as well. Production mode (DJANGO_DEBUG=0)
        # adds token auth, throttling and HTTPS redirects: see BENCHMARKS.md.
        DJANGO_DEBUG="1",
        VAR_DIR=str(OUT_DIR / "var"),
        LOG_LEVEL="WARNING",
        # No collection of the app's own database or broker from these processes.
        MONITOR_MYSQL_URLS="",
    )
    return env


def database_exists(db: str) -> bool:
    conn = connect(db=None)
    try:
        return bool(scalar(conn, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", [db]))
    finally:
        conn.close()


def recreate(db: str) -> None:
    assert db.startswith("bench_"), db  # benchmarks only ever drop their own databases
    conn = connect(db=None)
    execute(conn, f"DROP DATABASE IF EXISTS `{db}`")
    execute(conn, f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4")
    conn.close()


def migrate(db: str, target: str | None = None) -> float:
    """Create `db` if missing and run the project's migrations on it (up to `target`, e.g. 0008_counter_state)."""
    conn = connect(db=None)
    execute(conn, f"CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4")
    conn.close()
    env = app_env(db)
    env["DJANGO_SETTINGS_MODULE"] = "db_django.settings"
    args = [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
    if target:
        args[3:3] = ["monitor", target]
    started = time.perf_counter()
    subprocess.run(args, cwd=ROOT, env=env, check=True)
    seconds = time.perf_counter() - started
    log(f"migrate {db}{' to ' + target if target else ''}: {seconds:.1f} s")
    return seconds


def prepare_scratch(db: str = SCRATCH_DB, fold_watermark_us: int | None = 0) -> str:
    """`db` migrated and empty of samples, series, rollups and hosts (the write benchmarks start from nothing).

    The fold watermark (monitor/storage/folding.py) is set where a running
    installation has it, below every sample to come, so writes fold only their
    latest values and leave the minute and hour tiers to the folder; None sets
    it NULL: every write folds all its tiers, as on SQLite.
    """
    migrate(db)
    conn = connect(db)
    tables = ["monitor_sample", "monitor_rollup", "monitor_series", "monitor_host", "monitor_collectioncycle"]
    tables += [t for t in ("bench_notes_resource", "bench_raw_sample") if _exists(conn, db, t)]
    for table in tables:
        execute(conn, f"TRUNCATE TABLE `{table}`")
    execute(
        conn,
        "INSERT INTO monitor_foldwatermark (id, until_us) VALUES (1, %s) ON DUPLICATE KEY UPDATE until_us = %s",
        [fold_watermark_us, fold_watermark_us],
    )
    conn.close()
    return db


def _exists(conn, db: str, table: str) -> bool:
    sql = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s"
    return bool(scalar(conn, sql, [db, table]))


def _loaded(db: str, version: str) -> bool:
    if not database_exists(db):
        return False
    conn = connect(db)
    try:
        if not _exists(conn, db, "bench_dataset"):
            return False
        return scalar(conn, "SELECT COUNT(*) FROM bench_dataset WHERE version = %s", [version]) == 1
    finally:
        conn.close()


def prepare_data() -> str:
    """bench_10m holding the 10M-sample data set (loaded the first time: a few minutes)."""
    return _prepare(DATA_DB, "data", DATASET_VERSION)


def prepare_latest() -> str:
    """bench_latest holding 20,000 series with one sample and a latest value each."""
    return _prepare(LATEST_DB, "latest", f"latest-{LATEST_HOSTS}")


def _prepare(db: str, kind: str, version: str) -> str:
    if _loaded(db, version):
        log(f"{db}: already loaded ({version})")
        return db
    recreate(db)
    migrate(db)
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "load", kind], cwd=ROOT, env=app_env(db), check=True)
    conn = connect(db)
    execute(conn, "CREATE TABLE bench_dataset (version VARCHAR(64) PRIMARY KEY, seconds DOUBLE NOT NULL)")
    execute(conn, "INSERT INTO bench_dataset VALUES (%s, %s)", [version, time.perf_counter() - started])
    conn.close()
    log(f"{db}: loaded in {time.perf_counter() - started:.0f} s")
    return db


def _load_data() -> None:
    """Run inside `harness.py load data` (Django set up on bench_10m): series, samples, rollups."""
    from django.db import connection

    from monitor.storage import catalog, inserts, partitions

    partitions.partition_tables(HOUR_TIER_START, datetime.now(UTC))
    ids = catalog.series_ids((host, name, description_of(name)) for host in HOSTS for name in NAMES)
    for host in HOSTS:
        inserts.host_seen(host, DATASET_END - timedelta(seconds=STEP_SECONDS))
    db = connection.settings_dict["NAME"]
    connection.close()
    conn = connect(db)
    execute(
        conn,
        "CREATE TEMPORARY TABLE bench_map (series_id INT PRIMARY KEY, n INT NOT NULL, h INT NOT NULL,"
        " offset_us BIGINT NOT NULL) ENGINE=MEMORY",
    )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO bench_map VALUES (%s, %s, %s, %s)",
            [
                (ids[(host, name)], n, h, host_offset_us(h))
                for h, host in enumerate(HOSTS)
                for n, name in enumerate(NAMES)
            ],
        )
    first_us = int((DATASET_START - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * US
    ordered = sorted(ids.values())
    started = time.perf_counter()
    for k in range(0, len(ordered), SERIES_PER_STATEMENT):
        lo, hi = ordered[k], ordered[min(k + SERIES_PER_STATEMENT, len(ordered)) - 1]
        execute(
            conn,
            "INSERT INTO monitor_sample (series_id, ts, value)"
            f" SELECT m.series_id, {first_us} + t.seq * {STEP_SECONDS * US} + m.offset_us,"
            " ROUND(50 + 40 * SIN(t.seq / 360 + m.n + m.h) + 5 * SIN(t.seq * 1.7 + m.n * 3 + m.h * 7), 3)"
            f" FROM bench_map m CROSS JOIN seq_0_to_{DATASET_STEPS - 1} t"
            " WHERE m.series_id BETWEEN %s AND %s ORDER BY m.series_id, t.seq",
            [lo, hi],
        )
        # The minute rollups of those series, as the write path folds them.
        execute(
            conn,
            "INSERT INTO monitor_rollup (series_id, step, bucket, count, sum, min, max, last, last_ts)"
            f" SELECT series_id, 60, ts DIV {60 * US} * 60, COUNT(*), SUM(value), MIN(value), MAX(value),"
            " CAST(SUBSTRING_INDEX(GROUP_CONCAT(value ORDER BY ts DESC), ',', 1) AS DOUBLE), MAX(ts)"
            f" FROM monitor_sample WHERE series_id BETWEEN %s AND %s GROUP BY series_id, ts DIV {60 * US}",
            [lo, hi],
        )
        if k and k % 100 == 0:
            done = k * DATASET_STEPS
            log(f"  {done:,} samples with their minutes, {done / (time.perf_counter() - started):,.0f} samples/s")
    # Hours of the raw span from its minutes; the latest value from the last minute.
    execute(
        conn,
        "INSERT INTO monitor_rollup (series_id, step, bucket, count, sum, min, max, last, last_ts)"
        " SELECT series_id, 3600, bucket DIV 3600 * 3600, SUM(count), SUM(sum), MIN(min), MAX(max),"
        " CAST(SUBSTRING_INDEX(GROUP_CONCAT(last ORDER BY bucket DESC), ',', 1) AS DOUBLE), MAX(last_ts)"
        " FROM monitor_rollup WHERE step = 60 GROUP BY series_id, bucket DIV 3600",
    )
    execute(
        conn,
        "INSERT INTO monitor_rollup (series_id, step, bucket, count, sum, min, max, last, last_ts)"
        " SELECT series_id, 0, 0, 1, last, last, last, last, last_ts FROM monitor_rollup"
        " WHERE step = 60 AND bucket = (SELECT MAX(bucket) FROM monitor_rollup WHERE step = 60)",
    )
    # The 29 days of hours before the raw span (raw retention dropped their samples): one
    # hour of 360 samples each, values around a slow wave.
    hour0 = int((HOUR_TIER_START - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    hours = int((DATASET_START - HOUR_TIER_START).total_seconds()) // 3600
    x = "ROUND(50 + 40 * SIN(t.seq / 6 + m.n + m.h), 3)"
    execute(
        conn,
        "INSERT INTO monitor_rollup (series_id, step, bucket, count, sum, min, max, last, last_ts)"
        f" SELECT m.series_id, 3600, {hour0} + t.seq * 3600, 360, 360 * {x}, {x} - 5, {x} + 5, {x},"
        f" ({hour0} + t.seq * 3600 + 3590) * {US} + m.offset_us"
        f" FROM bench_map m CROSS JOIN seq_0_to_{hours - 1} t ORDER BY m.series_id, t.seq",
    )
    execute(conn, "ANALYZE TABLE monitor_sample, monitor_rollup, monitor_series")
    loaded = scalar(conn, "SELECT COUNT(*) FROM monitor_sample")
    assert loaded == DATASET_SAMPLES, loaded
    log(f"  {loaded:,} samples in {time.perf_counter() - started:.0f} s")
    conn.close()


def _load_latest() -> None:
    """Run inside `harness.py load latest`: 20,000 series through the write path, one sample each."""
    from monitor.storage.inserts import Point, store
    from monitor.storage.instants import to_us

    at = to_us(DATASET_END - timedelta(seconds=STEP_SECONDS))
    points = [
        Point(name, f"node-{h:03d}", at + host_offset_us(h % 10), float(n + h), description_of(name))
        for h in range(LATEST_HOSTS)
        for n, name in enumerate(NAMES)
    ]
    for k in range(0, len(points), 5000):
        store(points[k : k + 5000])


OLD_DB = os.environ.get("BENCH_OLD_DB", "bench_old_layout")
OLD_LAYOUT = "0008_counter_state"  # the last migration of the one-table layout (monitor_resource)


def prepare_old(db: str = OLD_DB, rows: int = DATASET_SAMPLES) -> str:
    """`db` migrated to 0008 (the old one-table layout) with `rows` samples in monitor_resource."""
    version = f"old-{rows}"
    if _loaded(db, version):
        log(f"{db}: already loaded ({version})")
        return db
    recreate(db)
    migrate(db, OLD_LAYOUT)
    conn = connect(db)
    seconds = load_old(conn, rows)
    execute(conn, "CREATE TABLE bench_dataset (version VARCHAR(64) PRIMARY KEY, seconds DOUBLE NOT NULL)")
    execute(conn, "INSERT INTO bench_dataset VALUES (%s, %s)", [version, seconds])
    conn.close()
    return db


def load_old(conn, rows: int) -> float:
    """The same samples as the 10M data set (its last `rows`), as the old table held them: ids rising with time."""
    steps = rows // SERIES
    assert steps * SERIES == rows, rows
    start = DATASET_END - timedelta(seconds=steps * STEP_SECONDS)
    execute(conn, "CREATE TEMPORARY TABLE bench_names (i INT PRIMARY KEY, name VARCHAR(200), d VARCHAR(200))")
    execute(conn, "CREATE TEMPORARY TABLE bench_hosts (i INT PRIMARY KEY, host VARCHAR(255), offset_us INT)")
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO bench_names VALUES (%s, %s, %s)", [(i, n, description_of(n)) for i, n in enumerate(NAMES)]
        )
        cur.executemany(
            "INSERT INTO bench_hosts VALUES (%s, %s, %s)", [(i, h, host_offset_us(i)) for i, h in enumerate(HOSTS)]
        )
    skip = DATASET_STEPS - steps  # cycle numbers as in the 10M data set, so values match
    started = time.perf_counter()
    for a in range(0, steps, 100):
        b = min(a + 100, steps) - 1
        execute(
            conn,
            "INSERT INTO monitor_resource (name, value, description, timestamp, host)"
            " SELECT n.name, ROUND(50 + 40 * SIN(t.seq / 360 + n.i + h.i)"
            " + 5 * SIN(t.seq * 1.7 + n.i * 3 + h.i * 7), 3),"
            f" n.d, TIMESTAMPADD(MICROSECOND, (t.seq - {skip}) * {STEP_SECONDS * US} + h.offset_us, %s), h.host"
            f" FROM seq_{a + skip}_to_{b + skip} t CROSS JOIN bench_hosts h CROSS JOIN bench_names n"
            " ORDER BY t.seq, h.i, n.i",
            [start.replace(tzinfo=None).isoformat(sep=" ")],
        )
        if a and a % 1000 == 0:
            log(f"  old layout: {a * SERIES:,} rows, {a * SERIES / (time.perf_counter() - started):,.0f} rows/s")
    execute(conn, "ANALYZE TABLE monitor_resource")
    loaded = scalar(conn, "SELECT COUNT(*) FROM monitor_resource")
    assert loaded == rows, (loaded, rows)
    seconds = time.perf_counter() - started
    log(f"  old layout: {rows:,} rows in {seconds:.0f} s")
    return seconds


def table_count(conn, table: str = "monitor_sample") -> int:
    return scalar(conn, f"SELECT COUNT(*) FROM `{table}`")


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


# --- gunicorn ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`gunicorn db_django.wsgi -w N` on a free loopback port, in its own process group; stopped (group-wide) on exit.

    By default with the bench settings (app_env()), sync workers, and ready once
    GET /monitor/ answers 200; bench/load.py passes its production environment,
    threads, and a token-authenticated readiness request.
    """

    def __init__(
        self,
        workers: int = WORKERS,
        name: str = "bench",
        *,
        db: str = SCRATCH_DB,
        threads: int | None = None,
        env: dict[str, str] | None = None,
        ready_path: str = "/monitor/",
        ready_headers: dict[str, str] | None = None,
    ):
        self.workers, self.threads, self.env, self.db = workers, threads, env, db
        self.ready_path, self.ready_headers = ready_path, ready_headers or {}
        self.logfile = OUT_DIR / f"gunicorn-{name}.log"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def command(self) -> list[str]:
        threads = ["--threads", str(self.threads)] if self.threads else []
        return [
            str(BIN / "gunicorn"),
            "db_django.wsgi:application",
            "-b",
            f"127.0.0.1:{self.port}",
            "-w",
            str(self.workers),
            *threads,
            "--chdir",
            str(ROOT),
            "--log-level",
            "warning",
        ]

    def __enter__(self) -> "Gunicorn":
        self._logfile = open(self.logfile, "w")  # closed in __exit__
        self.proc = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env if self.env is not None else app_env(self.db),
            stdout=self._logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.logfile}")
            if len(self.worker_pids()) == self.workers and self._answers():
                if self.env is None:
                    log(f"gunicorn -w {self.workers} on 127.0.0.1:{self.port} (bench.settings, {self.db})")
                return self
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gunicorn did not answer within 60 s: see {self.logfile}")

    def _answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", self.ready_path, headers=self.ready_headers)
            return conn.getresponse().status == 200
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        return [child.pid for child in psutil.Process(self.proc.pid).children()]

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._logfile.close()


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB, from /proc/<pid>/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


# --- HTTP clients --------------------------------------------------------------------------------
class Client:
    """One HTTP/1.1 client connection (http.client reconnects when the server closes it).

    gunicorn's sync workers answer `Connection: close`, so every request opens
    a new TCP connection on loopback whatever the client does; the same holds
    for the baselines.
    """

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, float]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, data, time.perf_counter() - started

    def get(self, path: str) -> tuple[int, bytes, float]:
        return self.request("GET", path)

    def post(self, path: str, body: bytes) -> tuple[int, bytes, float]:
        return self.request("POST", path, body)


def load_tool() -> str:
    return "wrk" if shutil.which("wrk") and os.environ.get("BENCH_LOAD", "wrk") == "wrk" else "python"


def load(port: int, path: str, seconds: float, connections: int, body: bytes | None = None) -> dict:
    """Closed-loop load: `connections` clients each send the next request as soon as the last is answered."""
    if load_tool() == "wrk":
        return _wrk(port, path, seconds, connections, body)
    return _python_load(port, path, seconds, connections, body)


def wrk_command(port: int, path: str, seconds: float, connections: int, script: str | None) -> list[str]:
    cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds:g}s"]
    if script:
        cmd += ["-s", script]
    return [*cmd, f"http://127.0.0.1:{port}{path}"]


def _wrk(port: int, path: str, seconds: float, connections: int, body: bytes | None) -> dict:
    script = None
    if body is not None:
        script = str(OUT_DIR / "post.lua")
        text = body.decode()
        assert "]]" not in text
        Path(script).write_text(
            f'wrk.method = "POST"\nwrk.body = [[{text}]]\nwrk.headers["Content-Type"] = "application/json"\n'
        )
    out = subprocess.run(
        wrk_command(port, path, seconds, connections, script), capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out)
    requests = int(found.group(1))
    elapsed = float(found.group(2)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[found.group(3)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    result = {
        "rps": rps,
        "requests": requests,
        "seconds": elapsed,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True))
        if errors
        else {},
    }
    if result["non_2xx"] or result["socket_errors"].get("connect") or result["socket_errors"].get("timeout"):
        raise RuntimeError(f"load run had failures: {result}\n{out}")
    return result


def _python_worker(port, path, deadline, body, queue) -> None:
    client = Client(port)
    ok = bad = 0
    while time.time() < deadline:
        status, _, _ = client.request("POST" if body is not None else "GET", path, body)
        if 200 <= status < 300:
            ok += 1
        else:
            bad += 1
    queue.put((ok, bad))


def _python_load(port: int, path: str, seconds: float, connections: int, body: bytes | None) -> dict:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    started = time.time()
    procs = [
        ctx.Process(target=_python_worker, args=(port, path, started + seconds, body, queue))
        for _ in range(connections)
    ]
    for proc in procs:
        proc.start()
    counts = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = time.time() - started
    ok = sum(c[0] for c in counts)
    bad = sum(c[1] for c in counts)
    if bad:
        raise RuntimeError(f"{bad} non-2xx answers")
    return {"rps": ok / elapsed, "requests": ok, "seconds": elapsed, "non_2xx": bad, "socket_errors": {}}


# --- in-process Django (SQL capture, profiles) ---------------------------------------------------
_django_db: str | None = None


def setup_django(db: str = SCRATCH_DB) -> None:
    """Django in this process, on `db` (one database per process: a script measures one data set)."""
    global _django_db
    if _django_db is not None:
        assert _django_db == db, f"Django is set up on {_django_db}, not {db}"
        return
    os.environ.update(app_env(db))
    import django

    django.setup()
    _django_db = db


def capture_sql(path: str, db: str) -> list[str]:
    """The SQL statements one GET of `path` sends, as sent (parameters inlined)."""
    setup_django(db)
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    client = DjangoClient()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.status_code
    return [q["sql"] for q in queries]


def time_sql(statements: list[str], repeat: int, db: str) -> list[float]:
    """Seconds per execution of `statements` (results fetched) over one raw mysqlclient connection."""
    from db_django.env import MYSQL_INIT_COMMAND

    conn = connect(db)
    timings = []
    with conn.cursor() as cur:
        cur.execute(MYSQL_INIT_COMMAND)  # the session settings the application's connections have
        for _ in range(repeat):
            started = time.perf_counter()
            for sql in statements:
                cur.execute(sql)
                cur.fetchall()
            timings.append(time.perf_counter() - started)
    conn.close()
    return timings


# --- a shared machine ---------------------------------------------------------------------------
# Other work on the machine (test runs, workers) steals CPU from a 2-core benchmark. Every
# measurement waits until the machine is quiet and counts the CPU other processes used while it
# ran; a measurement disturbed by more than NOISE_LIMIT is repeated (at most MAX_RETRIES times).
QUIET_LIMIT = float(os.environ.get("BENCH_QUIET_LIMIT", "15"))  # % of one core, before a measurement
NOISE_LIMIT = float(os.environ.get("BENCH_NOISE_LIMIT", "20"))  # % of one core, during it
QUIET_WAIT = float(os.environ.get("BENCH_QUIET_WAIT", "120"))  # s, then measure anyway (and say so)
MAX_RETRIES = 2


def _mine() -> set[int]:
    me = psutil.Process()
    return {me.pid, *(child.pid for child in me.children(recursive=True))}


def _others_seconds(count_mariadb: bool) -> dict[tuple[int, float], float]:
    """CPU seconds of every user-space process this benchmark did not start.

    Kernel threads are left out (the disk and network work they do is mostly ours), and so
    are reaped children (a parent's children_* times jump by a child's whole life): a
    process that starts and ends within one window is missed, so this errs low.
    """
    mine = _mine()
    seconds = {}
    for proc in psutil.process_iter(["ppid", "name", "create_time"]):
        info = proc.info
        if proc.pid in mine or proc.pid == 2 or info["ppid"] == 2:
            continue
        if not count_mariadb and info["name"] in ("mariadbd", "mysqld"):
            continue
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        seconds[(proc.pid, info["create_time"])] = t.user + t.system
    return seconds


class CpuWindow:
    """CPU that other processes used between start() and stop(), in % of one core.

    With `count_mariadb=False` the database server is not counted (it serves the
    benchmark while one runs; other clients' share of it cannot be told apart).
    """

    def __init__(self, count_mariadb: bool = True):
        self.count_mariadb = count_mariadb

    def start(self) -> "CpuWindow":
        self.t0 = time.monotonic()
        self.before = _others_seconds(self.count_mariadb)
        return self

    def stop(self) -> float:
        after = _others_seconds(self.count_mariadb)
        used = sum(max(0.0, cpu - self.before.get(key, 0.0)) for key, cpu in after.items())
        self.foreign_percent = used / (time.monotonic() - self.t0) * 100
        return self.foreign_percent


class CpuSplit:
    """CPU seconds by party between start() and stop(): the gunicorn workers, MariaDB, this
    process (the benchmark's own client code) with its children (wrk), and the machine in total."""

    def __init__(self, server: "Gunicorn | None" = None):
        self.server = server

    def _read(self) -> dict[str, float]:
        def cpu(proc: psutil.Process, children: bool = False) -> float:
            try:
                t = proc.cpu_times()
            except psutil.Error:
                return 0.0
            return t.user + t.system + ((t.children_user + t.children_system) if children else 0.0)

        gunicorn = 0.0
        if self.server is not None:
            master = psutil.Process(self.server.proc.pid)
            gunicorn = cpu(master) + sum(cpu(worker) for worker in master.children())
        mariadb = sum(cpu(p) for p in psutil.process_iter(["name"]) if p.info["name"] in ("mariadbd", "mysqld"))
        t = psutil.cpu_times()
        busy = t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)
        return {"gunicorn": gunicorn, "mariadb": mariadb, "client": cpu(psutil.Process(), children=True), "all": busy}

    def start(self) -> "CpuSplit":
        self.before = self._read()
        return self

    def stop(self) -> dict[str, float]:
        after = self._read()
        self.seconds = {key: after[key] - self.before[key] for key in after}
        return self.seconds


def wait_quiet() -> float:
    """Block until other processes (MariaDB included) use less than QUIET_LIMIT % for 2 s in a row."""
    started, calm = time.monotonic(), 0
    while True:
        window = CpuWindow().start()
        time.sleep(1)
        foreign = window.stop()
        calm = calm + 1 if foreign < QUIET_LIMIT else 0
        if calm >= 2:
            return foreign
        waited = time.monotonic() - started
        if waited > QUIET_WAIT:
            log(f"  machine still busy ({foreign:.0f}% of a core used by others) after {waited:.0f} s: measuring")
            return foreign
        if int(waited) % 15 == 0:
            log(f"  waiting for a quiet machine: others use {foreign:.0f}% of a core")


def measured(label: str, run, *args):
    """run(*args) on a quiet machine, repeated while others used more than NOISE_LIMIT during it.

    Returns (result, foreign CPU % of one core during the kept attempt).
    """
    for attempt in range(MAX_RETRIES + 1):
        wait_quiet()
        window = CpuWindow(count_mariadb=False).start()
        result = run(*args)
        foreign = window.stop()
        if foreign <= NOISE_LIMIT or attempt == MAX_RETRIES:
            return result, foreign
        log(f"  {label}: others used {foreign:.0f}% of a core meanwhile: measuring again")


def get_latencies(
    client: "Client", paths: dict[str, str], rounds: int, requests: int, describe
) -> tuple[dict[str, list[list[float]]], list[float]]:
    """`rounds` rounds of `requests` GETs of every path in turn, one at a time, each round on a quiet machine.

    Returns the latencies (seconds) by path and round, and other processes' CPU
    (% of one core) during each round. `describe(run)` is the round's log line.
    """
    latencies: dict[str, list[list[float]]] = {key: [] for key in paths}
    noise: list[float] = []

    def measurement() -> dict[str, list[float]]:
        run: dict[str, list[float]] = {key: [] for key in paths}
        for _ in range(requests):
            for key, path in paths.items():
                status, _, seconds = client.get(path)
                assert status == 200, status
                run[key].append(seconds)
        return run

    for r in range(rounds):
        run, foreign = measured(f"round {r + 1}", measurement)
        for key in run:
            latencies[key].append(run[key])
        noise.append(foreign)
        log(f"round {r + 1}: {describe(run)} (others: {foreign:.0f}% of a core)")
    return latencies, noise


def latency_summary(path: str, runs: list[list[float]], requests: int, db: str) -> dict:
    """One path's latencies over the rounds, beside the SQL it sends timed alone over mysqlclient."""
    sql = capture_sql(path, db)
    medians = [median(run) for run in runs]
    return {
        "path": path,
        "median_ms": median(medians) * 1000,
        "round_medians_ms": [m * 1000 for m in medians],
        "p95_ms": percentile([s for run in runs for s in run], 95) * 1000,
        "sql": sql,
        "sql_median_ms": median(time_sql(sql, requests, db)) * 1000,
    }


# --- statistics and reporting --------------------------------------------------------------------
def median(values) -> float:
    return statistics.median(values)


def percentile(values, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def log(message: str) -> None:
    print(message, flush=True)


def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text()
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    conn = connect(db=None)
    info = {
        "nproc": os.cpu_count(),
        "cpu": model.group(1).strip() if model else platform.machine(),
        "ram_gib": round(int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) / 1024**2, 1),
        "kernel": platform.release(),
        "mariadb": scalar(conn, "SELECT VERSION()"),
        "innodb_buffer_pool_size_mib": int(scalar(conn, "SELECT @@innodb_buffer_pool_size")) // 2**20,
        "innodb_flush_log_at_trx_commit": int(scalar(conn, "SELECT @@innodb_flush_log_at_trx_commit")),
        "python": platform.python_version(),
        "load_tool": load_tool(),
        "gunicorn_workers": WORKERS,
    }
    conn.close()
    for package in ("Django", "djangorestframework", "gunicorn", "mysqlclient"):
        info[package] = importlib.metadata.version(package)
    info["code_sha256"] = code_fingerprint()
    if info["load_tool"] == "wrk":
        version = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
        info["wrk"] = (version.stdout or version.stderr).split("[")[0].strip()
    return info


def code_fingerprint() -> str:
    """Which application code was measured (others change it between runs): a hash of its sources."""
    digest = hashlib.sha256()
    files = sorted([*ROOT.glob("db_django/*.py"), *ROOT.glob("monitor/**/*.py"), ROOT / "requirements.txt"])
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def save(name: str, result: dict) -> Path:
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    log(f"-> {path}")
    return path


if __name__ == "__main__":
    # `harness.py load data|latest`, run by _prepare with the environment of the database to fill.
    assert sys.argv[1:2] == ["load"] and sys.argv[2] in ("data", "latest"), sys.argv
    import django

    django.setup()
    {"data": _load_data, "latest": _load_latest}[sys.argv[2]]()
