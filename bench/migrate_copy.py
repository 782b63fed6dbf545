"""Upgrading from the one-table layout: rows/s of migration 0010_storage_copy over 1,000,000 old rows.

bench_migration is migrated up to 0008 (the old layout), its monitor_resource
filled with 1,000,000 rows (the last 1M samples of the 10M data set, as the
old table held them: ids rising with time, 1,000 series, 10 s apart), then
`manage.py migrate` runs the rest: 0009 creates the new tables (partitioned
from the oldest old sample), 0010 copies every row through the write path in
batches of 5,000 (storage/inserts.store: catalog, samples, rollups, latest
values), 0011 replaces the table with the Resource view. Reported: the copy's
own rate (its last progress line) and the wall time of the whole `migrate`.
The database is dropped at the end (--keep to keep it).

    .venv/bin/python bench/migrate_copy.py [--rows 1000000] [--keep]
"""

import argparse
import re
import subprocess
import sys
import time

import harness

DB = "bench_migration"


def main(rows: int = 1_000_000, keep: bool = False) -> dict:
    harness.log(f"== migration 0010_storage_copy over {rows:,} old rows")
    harness.recreate(DB)
    harness.migrate(DB, harness.OLD_LAYOUT)
    conn = harness.connect(DB)
    load_seconds = harness.load_old(conn, rows)
    env = harness.app_env(DB)
    env["DJANGO_SETTINGS_MODULE"] = "db_django.settings"
    harness.wait_quiet()
    window = harness.CpuWindow(count_mariadb=False).start()
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=harness.ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    seconds = time.perf_counter() - started
    foreign = window.stop()
    progress = re.findall(r"([\d,]+)/([\d,]+) rows \(\d+%\), ([\d,]+) rows/s", out)
    copied = re.search(r"copied ([\d,]+) samples; ([\d,]+) repeats", out)
    assert progress and copied, out[-2000:]
    samples = harness.table_count(conn, "monitor_sample")
    assert samples == rows == int(copied.group(1).replace(",", "")), (samples, copied.group(0))
    copy_rate = int(progress[-1][2].replace(",", ""))
    conn.close()
    result = {
        "benchmark": "migrate_copy",
        "rows": rows,
        "old_rows_load_seconds": load_seconds,
        "migrate_seconds": seconds,
        "copy_rows_per_s": copy_rate,
        "migrate_rows_per_s": rows / seconds,
        "others_cpu_percent": foreign,
        "progress_lines": len(progress),
        "output_tail": out[-1500:],
    }
    harness.log(
        f"0010_storage_copy: {copy_rate:,} rows/s by its last progress line; the whole `migrate` (0009-0012)"
        f" {seconds:.1f} s = {rows / seconds:,.0f} rows/s (others used {foreign:.0f}% of a core)"
    )
    if not keep:
        harness.execute(harness.connect(None), f"DROP DATABASE `{DB}`")
    harness.save("migrate_copy", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help=f"keep the {DB} database")
    args = parser.parse_args()
    main(args.rows, args.keep)
