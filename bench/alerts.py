"""Alert rule evaluation: 1,000 rules over 200 hosts (10,000 series with real rollup rows), MariaDB and SQLite.

The catalog: 200 hosts in 10 groups of 20 (`g3-h07`), 50 metrics each
(`bench.m00`..`bench.m49`), 15 minutes of samples every 20 s stored through
the application's write path (monitor.storage.inserts.store: the same rollups
a deployment has); 2 hosts stopped reporting 10 minutes before the end. The
rules: 1,000, each one metric over one host group (`g3-*`), so 20,000
(rule, series) pairs, with windows of 60, 300 and 600 s, lookups avg, max,
min and last, about 5 % of the pairs past a threshold, and a tenth of the
rules nodata=alert. The shipped default rules are removed first.

Measured: evaluate() wall time in-process, after one run that creates the
alerts (reported apart: "first run"), median of 5 steady runs, with its SQL
statement count. Each backend runs in a child process of its own (one
DATABASE_URL per Django process).

    .venv/bin/python bench/alerts.py [--runs 5] [--backends mysql,sqlite]

MariaDB database: bench_alerts_db_django (BENCH_MYSQL_URL, default
mysql://root@127.0.0.1:3306/); SQLite: $BENCH_OUT/alerts.sqlite3. The data is
kept and reused by the next run when its shape matches.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the project's packages, run as bench/alerts.py
OUT_DIR = Path(os.environ.get("BENCH_OUT", Path(tempfile.gettempdir()) / "db_django-bench"))
MYSQL = urlsplit(os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/"))
MYSQL_DB = "bench_alerts_db_django"
GROUPS, PER_GROUP, METRICS, RULES = 10, 20, 50, 1000
STEP, SPAN, STOPPED = 20, 15 * 60, ("g0-h00", "g5-h05")
WINDOWS, LOOKUPS = (60, 300, 600), ("avg", "max", "last", "min")


def database_url(backend: str) -> str:
    if backend == "mysql":
        return f"{MYSQL.scheme}://{MYSQL.netloc}/{MYSQL_DB}"
    return f"sqlite:///{OUT_DIR / 'alerts.sqlite3'}"


def hosts() -> list[str]:
    return [f"g{g}-h{n:02d}" for g in range(GROUPS) for n in range(PER_GROUP)]


def value_of(host: str, metric: int, i: int) -> float:
    """Deterministic, spread over 0..100: about 5 % of series sit above 95."""
    seed = (zlib.crc32(f"{host}/{metric}".encode()) & 0xFFFF) / 0xFFFF
    return round(100 * seed + (i % 3) * 0.1, 3)


def build(end_us: int) -> None:
    from monitor.models import Series
    from monitor.storage.inserts import Point, store

    points = []
    for host in hosts():
        stop = end_us - (600 * 1_000_000 if host in STOPPED else 0)
        for metric in range(METRICS):
            for i in range(SPAN // STEP):
                ts = end_us - SPAN * 1_000_000 + i * STEP * 1_000_000
                if ts <= stop:
                    points.append(Point(f"bench.m{metric:02d}", host, ts, value_of(host, metric, i)))
        if len(points) > 20_000:
            store(points)
            points = []
    if points:
        store(points)
    assert Series.objects.filter(metric__startswith="bench.").count() == GROUPS * PER_GROUP * METRICS


def rules() -> None:
    from monitor.alerts.models import Alert, AlertEvent, AlertRule

    AlertEvent.objects.all().delete()
    Alert.objects.all().delete()
    AlertRule.objects.all().delete()
    made = []
    for i in range(RULES):
        nodata = i % 10 == 0
        made.append(
            AlertRule(
                name=f"bench_{i:04d}",
                metric=f"bench.m{i % METRICS:02d}",
                host_pattern=f"g{(i // METRICS) % GROUPS}-*",
                lookup=LOOKUPS[i % len(LOOKUPS)],
                window=WINDOWS[i % len(WINDOWS)],
                warning=95,
                warning_clear=90,
                critical=99,
                critical_clear=97,
                nodata="alert" if nodata else "keep",
            )
        )
    AlertRule.objects.bulk_create(made)


def child(runs: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "db_django.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitor.alerts.evaluation import evaluate
    from monitor.models import Rollup, Series
    from monitor.storage.instants import from_us, to_us

    call_command("migrate", verbosity=0)
    series = Series.objects.filter(metric__startswith="bench.").count()
    built = False
    if series != GROUPS * PER_GROUP * METRICS:
        Rollup.objects.all().delete()
        Series.objects.all().delete()
        from django.utils import timezone

        started = time.monotonic()
        build(to_us(timezone.now()))
        built = round(time.monotonic() - started, 1)
    newest = Rollup.objects.filter(step=Rollup.LATEST).order_by("-last_ts").values_list("last_ts", flat=True).first()
    now = from_us(newest + 5_000_000)
    rules()
    started = time.monotonic()
    first = evaluate(now)
    first_seconds = time.monotonic() - started
    times, queries = [], []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.monotonic()
            report = evaluate(now)
            times.append(time.monotonic() - started)
        assert not report.skipped and report.events == 0, report
        queries.append(len(captured.captured_queries))
    return {
        "backend": connection.vendor,
        "server": connection.mysql_server_info
        if connection.vendor == "mysql"
        else f"SQLite {connection.Database.sqlite_version}",
        "rules": first.rules,
        "series_in_catalog": first.series,
        "pairs": first.pairs,
        "rollup_rows": Rollup.objects.count(),
        "built_data_seconds": built,
        "first_run": {"seconds": round(first_seconds, 4), "alerts_created": first.created, "events": first.events},
        "steady_median_seconds": round(statistics.median(times), 4),
        "steady_runs_seconds": [round(t, 4) for t in times],
        "statements_per_run": queries[0],
        "target": "< 1 s",
    }


def ensure_mysql_database() -> None:
    import MySQLdb

    connection = MySQLdb.connect(
        host=MYSQL.hostname, port=MYSQL.port or 3306, user=MYSQL.username or "root", password=MYSQL.password or ""
    )
    try:
        connection.cursor().execute(
            f"CREATE DATABASE IF NOT EXISTS {MYSQL_DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backends", default="mysql,sqlite")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.runs)))
        return
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    results = []
    for backend in args.backends.split(","):
        if backend == "mysql":
            ensure_mysql_database()
        env = {**os.environ, "DATABASE_URL": database_url(backend), "DJANGO_DEBUG": "0", "LOG_LEVEL": "WARNING"}
        env.setdefault("DJANGO_ALLOWED_HOSTS", "localhost")
        env.setdefault("DJANGO_SECRET_KEY", "bench-only-" + "x" * 50)
        run = subprocess.run(
            [sys.executable, __file__, "--child", "--runs", str(args.runs)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if run.returncode != 0:
            sys.exit(f"{backend} failed:\n{run.stderr[-4000:]}")
        results.append(json.loads(run.stdout.strip().splitlines()[-1]))
    print(json.dumps({"benchmark": "alerts", "results": results}, indent=1))


if __name__ == "__main__":
    main()
