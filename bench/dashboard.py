"""The dashboard's figures: a 24 h host view's batch request on a loaded MariaDB, and first paint in Chromium.

    .venv/bin/python bench/dashboard.py load      # 20 hosts x ~60 series: 30 days of rollups, 7 days raw
    .venv/bin/python bench/dashboard.py measure   # the host view's batch request, server-side ms
    .venv/bin/python bench/dashboard.py paint     # first paint and charts drawn, headless Chromium
    .venv/bin/python bench/dashboard.py all       # the three, in order

The data goes into its own database (BENCH_DASHBOARD_DB, default bench_dashboard,
on BENCH_MYSQL_URL, default mysql://root@127.0.0.1:3306/), migrated first. It is
generated inside MariaDB (INSERT ... SELECT over its SEQUENCE tables), a few
series per statement in primary-key order, so loading costs no Python per row:
raw samples every --raw-interval seconds (60) for the last --raw-days (7),
per-minute rollups for --days (30), per-hour rollups derived from those, and each
series' latest value: 48.5M rollup rows and 11.3M samples. (At a 10 s interval
the raw tier would hold 68M rows, more than this shared 2-core machine loaded in
an hour; the 24 h view reads raw samples only past its last whole minute, so the
interval changes how long loading takes, not what is measured.) Raw samples
and rollups agree exactly: within a minute the samples are v - d, ..., v + d
around that minute's value v, so the minute's count, sum, min, max and last
are what the write path would have folded. One host stopped reporting two
hours before the end (stale), and every host has a 20-minute hole yesterday
(a gap). The catalog and the Host rows are written through monitor.storage.

`measure` times POST /monitor/resources/series/batch/ in this process through
Django's test client (middleware, DRF, the queries, JSON: everything the server
does for the request, not the network), with the items and step the host page
asks for at a 1600 px wide window (the step `dash.js` picks): for a plain host
(web-01, 55 series) and for the host that also collected MySQL, Redis and the
queue (db-01, 78), and for db-01 at 1-minute steps, the finest the minute tier
serves. `paint` starts gunicorn on the same database and loads db-01's host view
for 24 h in headless Chromium (/usr/bin/chromium, /usr/bin/chromedriver,
Selenium), reading the browser's own Performance timeline: first-contentful-paint,
and the `dash:charts-drawn` mark the page sets when every chart holds its series.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = os.environ.get("BENCH_DASHBOARD_DB", "bench_dashboard")
MYSQL = urlsplit(os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/"))
DATABASE_URL = f"{MYSQL.scheme}://{MYSQL.netloc}/{DB}"
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "db_django.settings")
os.environ.setdefault("MONITOR_MYSQL_URLS", "")
os.environ.setdefault("VAR_DIR", str(Path("/tmp") / f"{DB}-var"))

HOSTS = (
    [f"web-{i:02d}" for i in range(1, 11)]
    + [f"db-{i:02d}" for i in range(1, 6)]
    + [f"worker-{i:02d}" for i in range(1, 6)]
)
STALE_HOST = "worker-05"
SERVER_HOST = "db-01"  # the worker that collected MySQL, Redis and the queue
WINDOW = (1600, 1000)
# Plot width of one chart of the host view's grid at that window (three columns): the step dash.js picks from it.
PLOT_WIDTH = 440
US = 1_000_000
STAGES = frozenset({"minutes", "hours", "raw"})


def host_names() -> list[str]:
    """About 60 series per host, named as the host collector names them."""
    names = ["cpu.percent", "cpu.user_percent", "cpu.system_percent", "cpu.iowait_percent", "cpu.steal_percent"]
    names += ["cpu.count", "load.1m", "load.5m", "load.15m"]
    names += ["memory.total_bytes", "memory.available_bytes", "memory.used_bytes", "memory.used_percent"]
    names += ["swap.total_bytes", "swap.used_bytes", "swap.used_percent"]
    names += ["swap.in_bytes_per_second", "swap.out_bytes_per_second"]
    for mount in ("/", "/var", "/data"):
        names += [f"disk.{m}:{mount}" for m in ("total_bytes", "used_bytes", "free_bytes", "used_percent")]
        names.append(f"disk.inodes_used_percent:{mount}")
    names += [
        f"diskio.{m}:sda"
        for m in ("read_bytes_per_second", "write_bytes_per_second", "read_ops_per_second", "write_ops_per_second")
    ]
    names.append("diskio.busy_percent:sda")
    for nic in ("eth0", "eth1"):
        names += [f"net.{d}_{m}_per_second:{nic}" for m in ("bytes", "packets", "errors") for d in ("rx", "tx")]
    names += ["processes.total", "processes.running", "processes.blocked"]
    names += ["system.context_switches_per_second", "system.uptime_seconds"]
    return names


def server_names() -> list[str]:
    mysql = "127.0.0.1:3306"
    redis = "127.0.0.1:6379"
    names = [
        f"mysql.{m}:{mysql}"
        for m in (
            "up",
            "threads_connected",
            "threads_running",
            "max_connections",
            "connections_used_percent",
            "queries_per_second",
            "slow_queries_per_second",
            "bytes_received_per_second",
            "bytes_sent_per_second",
            "buffer_pool_hit_ratio",
            "buffer_pool_pages_used_percent",
            "innodb_rows_read_per_second",
            "innodb_rows_inserted_per_second",
        )
    ]
    names += [
        f"redis.{m}:{redis}"
        for m in (
            "up",
            "connected_clients",
            "used_memory_bytes",
            "used_memory_rss_bytes",
            "ops_per_second",
            "keyspace_hit_ratio",
        )
    ]
    names += ["celery.broker_up", "celery.workers_online", "celery.queue_length:celery", "celery.tasks_active"]
    names += ["celery.tasks_succeeded_per_minute"]
    return names


def shape(name: str, unit: str) -> tuple[float, float, float, float]:
    """(base, amplitude, low, high) of a series' made-up values, by what it measures."""
    if name.endswith(".up") or name.endswith("_up") or name.endswith("_online"):
        return 1.0, 0.0, 0.0, 1.0
    if name.startswith("cpu.count"):
        return 8.0, 0.0, 8.0, 8.0
    if name.endswith("total_bytes") or name.startswith("mysql.max_connections"):
        return (64e9, 0.0, 64e9, 64e9) if "disk" not in name else (500e9, 0.0, 500e9, 500e9)
    if unit == "%":
        return 45.0, 25.0, 0.0, 100.0
    if unit == "bytes":
        return 20e9, 6e9, 0.0, 64e9
    if unit == "bytes/s":
        return 4e6, 3e6, 0.0, 1e12
    if unit in ("/s", "/min"):
        return 400.0, 300.0, 0.0, 1e9
    if unit == "load":
        return 2.0, 1.5, 0.0, 64.0
    if unit == "s":
        return 3e6, 0.0, 0.0, 1e9
    return 120.0, 60.0, 0.0, 1e9


def django_setup() -> None:
    import django

    django.setup()


def mysql_connect(db: str | None = DB):
    import MySQLdb

    return MySQLdb.connect(
        host=MYSQL.hostname or "127.0.0.1",
        port=MYSQL.port or 3306,
        user=MYSQL.username or "root",
        passwd=MYSQL.password or "",
        db=db or "",
        charset="utf8mb4",
        autocommit=True,
    )


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# --- load ------------------------------------------------------------------------------------------


def value_sql(minute: str) -> str:
    """The value of series p (bench_params) in minute `minute` (an SQL expression): a daily wave, a faster
    wobble and noise, clipped to the series' range."""
    return (
        f"GREATEST(p.lo, LEAST(p.hi, p.base + p.amp * SIN(2 * PI() * MOD({minute}, 1440) / 1440 + p.phase)"
        f" + p.amp * 0.3 * SIN({minute} / 7.0 + 3 * p.phase)"
        f" + p.amp * 0.15 * ((CRC32(CONCAT(p.series_id, '-', {minute})) MOD 1000) / 500 - 1)))"
    )


def load(days: int, raw_days: int, raw_interval: int, end: datetime, stages: set[str] = STAGES) -> None:
    """Fill the bench database; each stage starts its tables over (the database is the bench's own)."""
    with mysql_connect(None) as conn:
        conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS `{DB}` CHARACTER SET utf8mb4")
    django_setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from monitor.models import Host, Series
    from monitor.storage import catalog

    wanted = [(host, name, "") for host in HOSTS for name in host_names()]
    wanted += [(SERVER_HOST, name, "") for name in server_names()]
    catalog.series_ids(wanted)
    series = list(Series.objects.values_list("id", "name", "unit", "host"))
    log(f"catalog: {len(series)} series on {len(HOSTS)} hosts")
    end_s = int(end.timestamp()) // 3600 * 3600
    start_s = end_s - days * 86400
    raw_start = end_s - raw_days * 86400
    stale_end = end_s - 7200
    gap = (end_s - 86400 - 3600, end_s - 86400 - 3600 + 1200)  # yesterday, 20 minutes
    if 60 % raw_interval:
        raise SystemExit("--raw-interval must divide 60")
    per_minute = 60 // raw_interval
    with mysql_connect() as conn:
        cur = conn.cursor()
        cur.execute("DROP TABLE IF EXISTS bench_params")
        cur.execute(
            "CREATE TABLE bench_params (series_id INT PRIMARY KEY, base DOUBLE, amp DOUBLE, lo DOUBLE, hi DOUBLE,"
            " phase DOUBLE, delta DOUBLE, until_s BIGINT)"
        )
        rows = []
        for series_id, name, unit, host in series:
            base, amp, lo, hi = shape(name, unit)
            until_s = stale_end if host == STALE_HOST else end_s
            delta = amp * 0.02 if per_minute > 1 else 0.0  # one sample a minute: min = max = last = v
            rows.append((series_id, base, amp, lo, hi, (series_id * 0.7) % 6.283, delta, until_s))
        cur.executemany("INSERT INTO bench_params VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
        offsets = ", ".join(
            f"({k}, {(2 * k - (per_minute - 1)) / max(1, per_minute - 1):.6f})" for k in range(per_minute)
        )
        cur.execute("DROP TABLE IF EXISTS bench_offsets")
        cur.execute("CREATE TABLE bench_offsets (k INT PRIMARY KEY, o DOUBLE)")
        cur.execute(f"INSERT INTO bench_offsets VALUES {offsets}")
        live = "p.until_s > {t} AND NOT ({t} >= " + str(gap[0]) + " AND {t} < " + str(gap[1]) + ")"
        ids = sorted(row[0] for row in rows)
        # A few series per statement, each over its whole range: rows arrive in primary-key order
        # (series, time), so every insert appends to the B-tree instead of landing at random in it.
        groups = [ids[i : i + 8] for i in range(0, len(ids), 8)]

        def minutes_of(first_s: int) -> str:
            count = (end_s - first_s) // 60
            minute = f"({first_s // 60} + s.seq)"
            bucket = f"({first_s} + 60 * s.seq)"
            return minute, bucket, f"seq_0_to_{count - 1}"

        if "minutes" in stages:
            cur.execute("TRUNCATE TABLE monitor_rollup")
            started = time.monotonic()
            total = 0
            minute, bucket, seq = minutes_of(start_s)
            for group in groups:
                cur.execute(
                    "INSERT INTO monitor_rollup (series_id, step, bucket, count, sum, min, max, last, last_ts)"
                    f" SELECT series_id, 60, b, {per_minute}, {per_minute} * v, v - delta, v + delta, v + delta,"
                    f" (b + {60 - raw_interval}) * {US} FROM ("
                    f"  SELECT STRAIGHT_JOIN p.series_id, p.delta, {bucket} AS b, {value_sql(minute)} AS v"
                    f"  FROM bench_params p JOIN {seq} s"
                    f"  WHERE p.series_id IN ({', '.join(map(str, group))}) AND {live.format(t=bucket)}"
                    f"  ORDER BY p.series_id, s.seq) g"
                )
                total += cur.rowcount
            log(f"minute rollups: {total:,} rows in {time.monotonic() - started:.0f} s")

        if "hours" in stages:
            cur.execute("DELETE FROM monitor_rollup WHERE step IN (0, 3600)")
            started = time.monotonic()
            for group in groups:
                within = f"series_id IN ({', '.join(map(str, group))})"
                # An hour's last value is its last minute's: a primary-key lookup of that minute.
                cur.execute(
                    "INSERT INTO monitor_rollup (series_id, step, bucket, count, sum, min, max, last, last_ts)"
                    " SELECT h.series_id, 3600, h.b, h.c, h.s, h.lo, h.hi, (SELECT m.last FROM monitor_rollup m"
                    "  WHERE m.series_id = h.series_id AND m.step = 60"
                    f"  AND m.bucket = h.t DIV {US} - {60 - raw_interval}),"
                    " h.t FROM (SELECT series_id, bucket DIV 3600 * 3600 AS b, SUM(count) AS c, SUM(sum) AS s,"
                    "  MIN(min) AS lo, MAX(max) AS hi, MAX(last_ts) AS t FROM monitor_rollup"
                    f"  WHERE step = 60 AND {within} GROUP BY series_id, bucket DIV 3600) h"
                    " ORDER BY h.series_id, h.b"
                )
            cur.execute(
                "INSERT INTO monitor_rollup (series_id, step, bucket, count, sum, min, max, last, last_ts)"
                " SELECT m.series_id, 0, 0, m.count, m.sum, m.min, m.max, m.last, m.last_ts FROM monitor_rollup m"
                " JOIN (SELECT series_id, MAX(bucket) AS b FROM monitor_rollup WHERE step = 60 GROUP BY series_id) n"
                " ON n.series_id = m.series_id AND n.b = m.bucket WHERE m.step = 60"
            )
            log(f"hour rollups and latest values in {time.monotonic() - started:.0f} s")

        if "raw" in stages:
            cur.execute("TRUNCATE TABLE monitor_sample")
            started = time.monotonic()
            total = 0
            minute, bucket, seq = minutes_of(raw_start)
            for number, group in enumerate(groups):
                cur.execute(
                    "INSERT INTO monitor_sample (series_id, ts, value)"
                    f" SELECT STRAIGHT_JOIN g.series_id, (g.b + {raw_interval} * o.k) * {US}, g.v + g.delta * o.o"
                    f" FROM (SELECT STRAIGHT_JOIN p.series_id, p.delta, {bucket} AS b, {value_sql(minute)} AS v"
                    f"  FROM bench_params p JOIN {seq} s"
                    f"  WHERE p.series_id IN ({', '.join(map(str, group))}) AND {live.format(t=bucket)}) g"
                    " JOIN bench_offsets o ORDER BY g.series_id, g.b, o.k"
                )
                total += cur.rowcount
                if number % 20 == 0:
                    log(f"raw samples: {total:,} so far")
            log(f"raw samples: {total:,} rows in {time.monotonic() - started:.0f} s")
        cur.execute("DROP TABLE bench_params")
        cur.execute("DROP TABLE bench_offsets")
    for host in HOSTS:
        last = datetime.fromtimestamp(stale_end if host == STALE_HOST else end_s, UTC)
        Host.objects.update_or_create(name=host, defaults={"last_seen": last, "first_seen": end})


# --- measure ---------------------------------------------------------------------------------------


def host_view_items(host: str) -> list[dict]:
    """The batch items the host page sends: every line of every chart, once (as dash.js dedupes them)."""
    from monitor.dashboard import panels

    seen: dict[tuple, dict] = {}
    for section in panels.sections(panels.catalog(host=host), host=host):
        for chart in section.charts:
            for line in chart.lines:
                item = {"name": line.name, "host": line.host, "aggregate": line.aggregate}
                seen.setdefault((line.name, line.host, line.aggregate), item)
    return list(seen.values())


def page_step(seconds: int, width: int) -> int:
    """dash.js stepFor: the smallest of its steps giving at most one point per pixel."""
    steps = [1, 2, 5, 10, 15, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
    from django.conf import settings

    wanted = max(settings.METRICS_INTERVAL, seconds / max(50, width))
    return next(s for s in steps if s >= wanted)


def measure(requests: int, width: int, end: datetime) -> dict:
    django_setup()
    from django.conf import settings
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = ["*"]
    client = Client()
    until = int(end.timestamp()) // 3600 * 3600 - 10
    since = until - 86400
    results = {}
    for host, label, step in (
        (HOSTS[0], "page", page_step(86400, width)),
        (SERVER_HOST, "page", page_step(86400, width)),
        (SERVER_HOST, "1m", 60),
    ):
        items = host_view_items(host)
        label = f"{host}, {label}"
        body = json.dumps({"since": since // step * step, "until": until, "step": step, "fill": True, "items": items})
        times = []
        for attempt in range(requests + 3):
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.post("/monitor/resources/series/batch/", body, content_type="application/json")
                elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.content[:500]
            if attempt >= 3:  # the first ones warm the buffer pool and the connection
                times.append(elapsed * 1000)
        answer = response.json()
        points = sum(sum(v is not None for v in r["values"]) for r in answer["results"])
        times.sort()
        results[label] = {
            "step": step,
            "items": len(items),
            "buckets": len(answer["times"]),
            "points_with_data": points,
            "queries": len(queries),
            "min_ms": round(times[0], 1),
            "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, math.ceil(0.95 * len(times)) - 1)], 1),
            "requests": len(times),
            "load_average_1m": round(os.getloadavg()[0], 2),  # the machine is shared: how busy it was
        }
        log(f"batch, 24 h host view of {host}, step {step} s: {json.dumps(results[label])}")
    return results


# --- paint ---------------------------------------------------------------------------------------


def paint(runs: int, end: datetime) -> dict:
    django_setup()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    sys.path.insert(0, str(ROOT / "tests"))
    from procs import closed_port, listening, wait_for

    port = closed_port()
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "HOST_STALE_AFTER": str(10**9)}
    log_path = Path(os.environ["VAR_DIR"]) / "gunicorn.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [gunicorn, "db_django.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "-k", "gthread", "--threads", "4"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: listening("127.0.0.1", port), 60, "gunicorn", log_path)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={WINDOW[0]},{WINDOW[1]}"):
            options.add_argument(arg)
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        until = int(end.timestamp()) // 3600 * 3600 - 10
        url = f"http://127.0.0.1:{port}/hosts/{SERVER_HOST}/?from={until - 86400}&to={until}"
        found = []
        try:
            for attempt in range(runs + 1):
                driver.get("about:blank")
                driver.get(url)
                wait_for(lambda: driver.execute_script("return document.body.dataset.loads") == "1", 30, "charts")
                timing = driver.execute_script(
                    """
                    const nav = performance.getEntriesByType('navigation')[0];
                    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                    const drawn = performance.getEntriesByName('dash:charts-drawn')[0];
                    return {ttfb: nav.responseStart, html: nav.responseEnd, fcp: fcp && fcp.startTime,
                            drawn: drawn.startTime, charts: Dash.charts.size, batchMs: Dash.stats.lastMs,
                            step: Dash.stats.step, requests: Dash.stats.requests};
                    """
                )
                if attempt:  # the first load warms gunicorn's workers and the browser's cache
                    found.append(timing)
        finally:
            driver.quit()
    finally:
        proc.terminate()
        proc.wait(10)
    summary = {
        key: round(statistics.median(t[key] for t in found), 1) for key in ("ttfb", "html", "fcp", "drawn", "batchMs")
    }
    summary.update(charts=found[-1]["charts"], step=found[-1]["step"], batch_requests=found[-1]["requests"])
    summary["runs"] = len(found)
    log(f"host view 24 h in Chromium ({WINDOW[0]}x{WINDOW[1]}), medians in ms: {json.dumps(summary)}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("what", choices=["load", "measure", "paint", "all"])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--raw-days", type=int, default=7)
    parser.add_argument("--raw-interval", type=int, default=60)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--end", default="", help="end of the data (ISO 8601); default: now, to the hour")
    parser.add_argument(
        "--stages",
        default="minutes,hours,raw",
        help="load only these of minutes,hours,raw (to finish a load cut short)",
    )
    args = parser.parse_args()
    end = datetime.fromisoformat(args.end) if args.end else datetime.now(UTC)
    if args.what in ("load", "all"):
        load(args.days, args.raw_days, args.raw_interval, end, set(args.stages.split(",")))
    if args.what in ("measure", "all"):
        measure(args.requests, PLOT_WIDTH, end)
    if args.what in ("paint", "all"):
        paint(args.runs, end)


if __name__ == "__main__":
    main()
