"""Retention on MariaDB: a day of raw samples dropped as a partition, and an hourly run that deletes nothing.

bench_prune gets the raw samples of one whole day (2026-11-24: 1,000 series x
8,640 samples = 8,640,000) copied from bench_10m, in tables partitioned by day
from 2026-11-23 (monitor.storage.partitions), and its series catalog. Then:

1. `retention.prune(now=2026-11-26 01:00, days={"raw": 2})`, in this process:
   the cutoff (2026-11-24 01:00) falls inside the day, which is what beat's
   hourly prune meets between two partition drops. The day's partition is not
   all past the cutoff, so it stays whole: no row is deleted (checked, with no
   DELETE statement sent) and the run's time is timed.
2. `manage.py prune --dry-run --raw-days 2`, then `manage.py prune --raw-days 2`
   (the README's commands; now is the real time, so the cutoff is past the
   day): the day's partition, all 8,640,000 samples, is dropped whole. Timed
   as the command's wall time (Django's start included) and as the "done in"
   figure it prints.

The database is dropped at the end (--keep to keep it).

    .venv/bin/python bench/prune.py [--keep]
"""

import argparse
import re
import subprocess
import sys
import time
from datetime import UTC, datetime

import harness

DB = "bench_prune"
DAY = datetime(2026, 11, 24, tzinfo=UTC)
PARTITION = "p20261125"  # the partition holding 2026-11-24 (named after the first day it no longer holds)


def manage(*args: str) -> tuple[str, float]:
    env = harness.app_env(DB)
    env["DJANGO_SETTINGS_MODULE"] = "db_django.settings"
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=harness.ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    return out, time.perf_counter() - started


def main(keep: bool = False) -> dict:
    harness.log("== retention: one day of raw samples (8.64M) on MariaDB")
    source = harness.prepare_data()
    harness.recreate(DB)
    harness.migrate(DB)
    harness.setup_django(DB)
    from django.conf import settings
    from django.db import connection

    from monitor.storage import partitions, retention

    partitions.partition_tables(datetime(2026, 11, 23, tzinfo=UTC), datetime.now(UTC))
    connection.close()
    conn = harness.connect(DB)
    harness.execute(conn, f"INSERT INTO monitor_series SELECT * FROM `{source}`.monitor_series")
    started = time.perf_counter()
    copied = harness.execute(
        conn, f"INSERT INTO monitor_sample SELECT * FROM `{source}`.monitor_sample PARTITION ({PARTITION})"
    )
    harness.log(f"copied {copied:,} samples of {DAY:%Y-%m-%d} in {time.perf_counter() - started:.0f} s")
    harness.execute(conn, "ANALYZE TABLE monitor_sample")

    def rows_in_day() -> int:
        return harness.scalar(conn, f"SELECT COUNT(*) FROM monitor_sample PARTITION ({PARTITION})")

    # 1. The hourly run with the cutoff inside the day's partition: nothing to delete.
    from django.db import connection as django_connection
    from django.test.utils import CaptureQueriesContext

    harness.wait_quiet()
    window = harness.CpuWindow(count_mariadb=False).start()
    started = time.perf_counter()
    with CaptureQueriesContext(django_connection) as queries:
        reports = retention.prune(
            now=datetime(2026, 11, 26, 1, tzinfo=UTC), days={"raw": 2}, batch_size=settings.RETENTION_BATCH_SIZE
        )
    hour_seconds = time.perf_counter() - started
    hour_foreign = window.stop()
    hour_rows = next(r.rows for r in reports if r.tier == "raw")
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("DELETE")]
    left = rows_in_day()
    assert hour_rows == 0 and left == copied, (hour_rows, left)
    assert not [sql for sql in deletes if "monitor_sample" in sql or "monitor_rollup" in sql], deletes
    harness.log(
        f"the hourly run, cutoff inside the day: {hour_rows} samples deleted, {len(queries.captured_queries)}"
        f" statements in {hour_seconds * 1000:.1f} ms (others used {hour_foreign:.0f}% of a core)"
    )

    # 2. The whole day as one partition, with the README's command.
    dry, dry_seconds = manage("prune", "--dry-run", "--raw-days", "2")
    harness.log(f"prune --dry-run --raw-days 2 ({dry_seconds:.1f} s):\n{dry.rstrip()}")
    harness.wait_quiet()
    window = harness.CpuWindow(count_mariadb=False).start()
    out, day_seconds = manage("prune", "--raw-days", "2")
    day_foreign = window.stop()
    harness.log(f"prune --raw-days 2 ({day_seconds:.1f} s wall):\n{out.rstrip()}")
    done = re.search(r"done in ([\d.]+)s", out)
    assert PARTITION in out and harness.table_count(conn) == 0, out
    conn.close()
    result = {
        "benchmark": "prune",
        "day_samples": copied,
        "hourly_rows_deleted": hour_rows,
        "hourly_statements": len(queries.captured_queries),
        "hourly_seconds": hour_seconds,
        "hourly_others_cpu_percent": hour_foreign,
        "partition_rows": left,
        "partition_command_seconds": day_seconds,
        "partition_done_in_seconds": float(done.group(1)) if done else None,
        "partition_others_cpu_percent": day_foreign,
        "dry_run_output": dry,
        "output": out,
    }
    harness.log(
        f"day partition ({left:,} samples) dropped by `manage.py prune --raw-days 2`: {day_seconds:.2f} s wall,"
        f" 'done in' {result['partition_done_in_seconds']} s"
    )
    if not keep:
        harness.execute(harness.connect(None), f"DROP DATABASE `{DB}`")
    harness.save("prune", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help=f"keep the {DB} database")
    main(parser.parse_args().keep)
