"""monitor_sample's row format: insert rate, server CPU and bytes on disk, COMPRESSED against the others.

The sample table is ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8 (migration 0009).
This loads the same samples into three copies of it (same columns, key and
daily partitions), in the order a running installation writes them (every
series once per scrape, 2,000 rows per multi-row INSERT and commit):

    COMPRESSED       as shipped: each page compressed to fit 8 KiB, recompressed
                     as rows arrive
    DYNAMIC          uncompressed
    PAGE_COMPRESSED  MariaDB's page compression: DYNAMIC pages compressed when
                     written to disk, the space they no longer need given back
                     to the filesystem (a hole punched in the file)

and reports rows/s, the server's CPU per row (when the server is on this
machine; the load and the flush of its pages), and bytes per sample on disk: allocated (what `du` counts; holes
count nothing) and apparent (the file's size), as written (the table's pages
flushed by FLUSH TABLES ... FOR EXPORT) and after OPTIMIZE TABLE. Reading the
files needs the server's datadir (run as root on the server's host).

    .venv/bin/python bench/row_format.py [--series 10000] [--scrapes 100]
"""

import argparse
import random
import time
from pathlib import Path

import harness
from remote_write import PAGE_COMPRESSED, UNCOMPRESSED

DB = "bench_row_format"
BATCH = 2000
INTERVAL_US = 15_000_000
FORMATS = {
    "COMPRESSED": "",  # as migration 0009 made monitor_sample
    "DYNAMIC": UNCOMPRESSED,
    "PAGE_COMPRESSED": PAGE_COMPRESSED,
}
ROW = "(%d,%d,%r)"


def values(series: int, seed: int) -> list[float]:
    """One scrape's values: gauges with two decimals, and every third series a large counter."""
    rng = random.Random(seed)
    return [float(rng.randrange(10**9)) if i % 3 == 0 else round(rng.uniform(0, 100), 2) for i in range(series)]


def load(conn, table: str, series: int, scrapes: int) -> float:
    """Every scrape into `table`; seconds."""
    t0 = (int(time.time()) // 86400 - 1) * 86400 * 1_000_000  # yesterday: inside the daily partitions
    scrape_values = [values(series, seed) for seed in range(3)]
    started = time.perf_counter()
    with conn.cursor() as cur:
        for k in range(scrapes):
            seen = scrape_values[k % 3]
            for start in range(0, series, BATCH):
                rows = [
                    ROW % (i + 1, t0 + k * INTERVAL_US, seen[i] + k) for i in range(start, min(series, start + BATCH))
                ]
                cur.execute(f"INSERT INTO `{table}` (series_id, ts, value) VALUES " + ",".join(rows))
                conn.commit()
    return time.perf_counter() - started


def on_disk(conn, table: str) -> tuple[int, int]:
    """(allocated, apparent) bytes of the table's files, its dirty pages written out first."""
    harness.execute(conn, f"FLUSH TABLES `{table}` FOR EXPORT")
    try:
        folder = Path(harness.scalar(conn, "SELECT @@datadir")) / DB
        files = [*folder.glob(f"{table}.ibd"), *folder.glob(f"{table}#P#*.ibd")]
        return sum(f.stat().st_blocks * 512 for f in files), sum(f.stat().st_size for f in files)
    finally:
        harness.execute(conn, "UNLOCK TABLES")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=100)
    args = parser.parse_args()
    samples = args.series * args.scrapes
    harness.recreate(DB)
    harness.migrate(DB)
    conn = harness.connect(DB, autocommit=False)
    print(f"{samples:,} samples ({args.series:,} series x {args.scrapes} scrapes), {BATCH} rows per INSERT")
    try:
        for name, options in FORMATS.items():
            table = f"sample_{name.lower()}"
            harness.execute(conn, f"CREATE TABLE `{table}` LIKE monitor_sample")
            if options:
                harness.execute(conn, f"ALTER TABLE `{table}` {options}")
            before = harness.mariadb_seconds()
            seconds = load(conn, table, args.series, args.scrapes)
            written, written_apparent = on_disk(conn, table)
            used = harness.mariadb_seconds() - before  # with the flush: page compression happens as pages are written
            harness.execute(conn, f"OPTIMIZE TABLE `{table}`")
            optimized, optimized_apparent = on_disk(conn, table)
            cpu = f", server {used / samples * 1e6:.1f} us CPU per row" if used else ""
            print(
                f"{name:<16} {samples / seconds:>9,.0f} rows/s{cpu}; bytes per sample on disk:"
                f" {written / samples:.1f} as written (apparent {written_apparent / samples:.1f}),"
                f" {optimized / samples:.1f} after OPTIMIZE (apparent {optimized_apparent / samples:.1f})"
            )
    finally:
        conn.close()
        harness.execute(harness.connect(None), f"DROP DATABASE `{DB}`")


if __name__ == "__main__":
    main()
