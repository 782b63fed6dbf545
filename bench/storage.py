"""Bytes per sample at 10M samples: the new storage's tiers against the old one-table layout, same run.

New (bench_10m, tables as migrations 0009-0012 create them): monitor_sample
(ROW_FORMAT=COMPRESSED, daily partitions) holding 10,000,000 raw samples, and
monitor_rollup (DYNAMIC, partitioned by step and bucket) holding their minute
and hour rollups, the latest values, and 29 more days of hours. Old
(bench_old_layout, migrated up to 0008): monitor_resource with the same
10,000,000 samples as rows (id BIGINT, name, value, description, timestamp,
host; primary key and the two secondary indexes of 0001-0008).

Every table is rebuilt with OPTIMIZE TABLE (InnoDB: recreate + analyze) and
analysed, then measured twice: data_length + index_length from
information_schema (per partition for the tiers), and the size of its .ibd
files on disk (readable when the benchmark runs as root on the server's host).

    .venv/bin/python bench/storage.py [--no-optimize]
"""

import argparse
import time
from pathlib import Path

import harness

DATADIR_QUERY = "SELECT @@datadir"


def optimize(conn, table: str) -> float:
    """OPTIMIZE TABLE (InnoDB answers "doing recreate + analyze instead": a rebuild) and ANALYZE; seconds."""
    started = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute(f"OPTIMIZE TABLE `{table}`")
        for row in cur.fetchall():
            harness.log(f"  {' | '.join(map(str, row))}")
        cur.execute(f"ANALYZE TABLE `{table}`")
        cur.fetchall()
    return time.perf_counter() - started


def partition_sizes(conn, db: str, table: str) -> dict[str, int]:
    """{partition name (or '' when not partitioned): data_length + index_length}."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT COALESCE(PARTITION_NAME, ''), DATA_LENGTH + INDEX_LENGTH FROM information_schema.PARTITIONS"
            " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            [db, table],
        )
        return {name: int(size) for name, size in cur.fetchall()}


def files_bytes(conn, db: str, table: str) -> int | None:
    folder = Path(harness.scalar(conn, DATADIR_QUERY)) / db
    try:
        files = [*folder.glob(f"{table}.ibd"), *folder.glob(f"{table}#P#*.ibd")]
        return sum(f.stat().st_size for f in files) or None
    except OSError:
        return None


def row_format(conn, db: str, table: str) -> str:
    return harness.scalar(
        conn,
        "SELECT ROW_FORMAT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        [db, table],
    )


def tier_of(partition: str) -> str:
    if partition == "platest":
        return "latest"
    return {"m": "minute", "h": "hour"}[partition[0]]


def main(do_optimize: bool = True) -> dict:
    harness.log("== bytes per sample at 10M samples: new storage vs the old one-table layout")
    new, old = harness.prepare_data(), harness.prepare_old()
    result: dict = {"benchmark": "storage", "samples": harness.DATASET_SAMPLES}
    conn = harness.connect(new)
    for table in ("monitor_sample", "monitor_rollup") if do_optimize else ():
        harness.log(f"OPTIMIZE {new}.{table}: {optimize(conn, table):.0f} s")
    raw_bytes = sum(partition_sizes(conn, new, "monitor_sample").values())
    raw_rows = harness.table_count(conn, "monitor_sample")
    tiers: dict[str, dict] = {
        "raw": {
            "rows": raw_rows,
            "bytes": raw_bytes,
            "file_bytes": files_bytes(conn, new, "monitor_sample"),
            "row_format": row_format(conn, new, "monitor_sample"),
        }
    }
    rollup_format = row_format(conn, new, "monitor_rollup")
    for name, size in partition_sizes(conn, new, "monitor_rollup").items():
        tier = tiers.setdefault(tier_of(name), {"rows": 0, "bytes": 0, "row_format": rollup_format})
        tier["bytes"] += size
    with conn.cursor() as cur:
        cur.execute("SELECT step, COUNT(*), SUM(count) FROM monitor_rollup GROUP BY step")
        for step, rows, covered in cur.fetchall():
            tier = tiers[{0: "latest", 60: "minute", 3600: "hour"}[step]]
            tier["rows"], tier["samples_covered"] = int(rows), int(covered)
    tiers["catalog"] = {
        "rows": harness.table_count(conn, "monitor_series"),
        "bytes": sum(partition_sizes(conn, new, "monitor_series").values()),
    }
    conn.close()
    conn = harness.connect(old)
    if do_optimize:
        harness.log(f"OPTIMIZE {old}.monitor_resource: {optimize(conn, 'monitor_resource'):.0f} s")
    old_size = {
        "rows": harness.table_count(conn, "monitor_resource"),
        "bytes": sum(partition_sizes(conn, old, "monitor_resource").values()),
        "file_bytes": files_bytes(conn, old, "monitor_resource"),
        "row_format": row_format(conn, old, "monitor_resource"),
    }
    conn.close()
    for tier in tiers.values():
        tier["bytes_per_row"] = tier["bytes"] / tier["rows"]
    for key in ("raw", "minute", "hour"):
        tiers[key]["bytes_per_sample_covered"] = tiers[key]["bytes"] / tiers[key].get("samples_covered", raw_rows)
    old_size["bytes_per_row"] = old_size["bytes"] / old_size["rows"]
    result.update(new=tiers, old=old_size, optimized=do_optimize)
    harness.log(
        f"old monitor_resource ({old_size['row_format']}): {old_size['rows']:,} rows, {old_size['bytes'] / 2**20:,.1f}"
        f" MiB, {old_size['bytes_per_row']:.1f} B per sample (files {old_size['file_bytes'] or 0:,} B)"
    )
    for name, tier in tiers.items():
        harness.log(
            f"{name} ({tier.get('row_format', '')}): {tier['rows']:,} rows, {tier['bytes'] / 2**20:,.1f} MiB,"
            f" {tier['bytes_per_row']:.1f} B per row"
            + (
                f", {tier['bytes_per_sample_covered']:.2f} B per raw sample it covers"
                if "bytes_per_sample_covered" in tier
                else ""
            )
            + (f" (files {tier['file_bytes']:,} B)" if tier.get("file_bytes") else "")
        )
    harness.save("storage", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-optimize", action="store_true", help="measure as loaded, without OPTIMIZE TABLE")
    main(not parser.parse_args().no_optimize)
