"""Where a write's database time goes: MariaDB CPU per transaction for each part of our write, beside the notes'.

The single POST, bulk and remote_write targets (issues 11.7, 12, 15) are ratios
against writes that store only the sample row. Ours also folds each sample into
three rollup rows (latest value, minute, hour) in the same transaction. This
script prices each part on the server as statements of the exact text the
write path sends (monitor/storage: `numbers_statement`, the inline fold's buckets), on one
connection, one transaction at a time, so the CPU the server spends is the
part's cost and nothing else's:

    single sample (one row; the notes' curl POST):
      do-nothing          DO 1: a statement's floor (network, parse, answer)
      notes INSERT        the notes' viewset's statement (autocommit)
      sample              START TRANSACTION; our sample INSERT; COMMIT
      sample + latest     ... and the latest value's upsert
      whole write         ... and the minute and hour upserts: the packet with the watermark NULL
      deferred write      the sample, and one upsert that reads the watermark under its shared
                          lock and keys the minute and hour rows as the latest value's (the sample
                          lies past it): the packet the API sends for a sample it believes late
      deferred latest     the packet the API sends once the folder runs and the sample lies past
                          the watermark this process last read: the sample, and the latest
                          value's upsert alone, which checks that belief under the shared lock
    batch (SAMPLES_PER_BATCH series at one instant, as bulk POSTs and remote_write send):
      batch samples       the samples' INSERT, one transaction
      batch whole write   the samples' INSERT and the fold of all three tiers, one transaction
      batch deferred      the watermark's shared lock, the samples' INSERT and their latest values

MariaDB's CPU is read from its process (every thread: purge and log writers
included), so the server must run on this machine; each round waits for a
quiet machine (bench/harness.py `measured`). Rounds interleave the shapes.

    .venv/bin/python bench/write_cost.py [--rounds 3] [--transactions 3000] [--batches 40]
"""

import argparse
import time

import harness

SAMPLES_PER_BATCH = 2000  # remote_write's WriteRequest size in bench/remote_write.py
SERIES_ID = 1


def shapes(first_ts: int) -> dict[str, tuple[int, object]]:
    """name -> (samples per transaction, k -> packet text of the k-th transaction)."""
    from monitor.models import Rollup, Sample
    from monitor.storage.bulk import numbers_statement
    from monitor.storage.folding import LOCK_FOR_WRITE_SQL
    from monitor.storage.inserts import SAMPLE_COLUMNS, SAMPLE_FORMAT, _statement
    from monitor.storage.rollups import ROW_FORMAT, _upsert_sql, aggregate, fold_sql, inline_fold_sql, latest_sql

    insert = _statement("mysql", Sample, SAMPLE_COLUMNS, 1, None, (), ())
    notes = (
        "INSERT INTO bench_notes_resource (name, value, description, timestamp, host)"
        " VALUES ('CPU Usage', 75.5, 'Average CPU usage in percentage', '2026-11-27 10:00:00.123456', '')"
    )

    def one(k: int) -> list[tuple[int, int, float]]:
        return [(SERIES_ID, first_ts + k * 1000, 75.5)]

    def batch(k: int) -> list[tuple[int, int, float]]:
        at = first_ts + k * 10_000_000
        return [(SERIES_ID + 1 + i, at, float(i % 100)) for i in range(SAMPLES_PER_BATCH)]

    def transaction(*statements: str) -> str:
        return ";".join(["START TRANSACTION", *statements, "COMMIT"])

    def latest(rows) -> str:
        return numbers_statement(_upsert_sql("mysql"), aggregate(rows, Rollup.LATEST), ROW_FORMAT)

    def samples(rows) -> str:
        return numbers_statement(insert, rows, SAMPLE_FORMAT)

    return {
        "do-nothing": (1, lambda k: "DO 1"),
        "notes INSERT": (1, lambda k: notes),
        "sample": (1, lambda k: transaction(samples(one(k)))),
        "sample + latest": (1, lambda k: transaction(samples(one(k)), latest(one(k)))),
        "whole write": (1, lambda k: transaction(samples(one(k)), inline_fold_sql(one(k)))),
        "deferred write": (
            1,
            lambda k: transaction(samples(one(k)), fold_sql(one(k)[0], LOCK_FOR_WRITE_SQL)),
        ),
        "deferred latest": (
            1,
            lambda k: transaction(samples(one(k)), latest_sql(one(k)[0], LOCK_FOR_WRITE_SQL)),
        ),
        "batch samples": (SAMPLES_PER_BATCH, lambda k: transaction(samples(batch(k)))),
        "batch whole write": (SAMPLES_PER_BATCH, lambda k: transaction(samples(batch(k)), inline_fold_sql(batch(k)))),
        "batch deferred": (
            SAMPLES_PER_BATCH,
            lambda k: transaction(LOCK_FOR_WRITE_SQL, samples(batch(k)), latest(batch(k))),
        ),
    }


def main(rounds: int, transactions: int, batches: int) -> dict:
    harness.log(f"== write cost: {rounds} rounds, {transactions} single-sample and {batches} batch transactions each")
    db = harness.prepare_scratch()
    harness.setup_django(db)
    from bench.baseline import create_notes_table
    from monitor.storage.catalog import series_ids

    create_notes_table()
    # The series the rows name, in the catalog (ids 1..): the fold's rows refer to real series.
    wanted = [("bench-host", f"bench.metric.{i}", "") for i in range(SAMPLES_PER_BATCH + 1)]
    assert sorted(series_ids(wanted).values()) == list(range(1, SAMPLES_PER_BATCH + 2))
    from MySQLdb.constants import CLIENT

    conn = harness.connect(db, client_flag=CLIENT.MULTI_STATEMENTS)
    cursor = conn.cursor()
    first_ts = int(time.time()) * 1_000_000
    made = shapes(first_ts)
    used = [0]  # transactions written so far: every shape stores new instants (no repeat, no conflict)
    per_round: dict[str, list[float]] = {name: [] for name in made}
    noise = []

    def measurement() -> dict[str, float]:
        run = {}
        for name, (size, packet) in made.items():
            count = batches if size > 1 else transactions
            texts = [packet(used[0] + k) for k in range(count)]  # written before the clock starts
            used[0] += count
            before = harness.mariadb_seconds()
            for text in texts:
                cursor.execute(text)
                while cursor.nextset() is not None:
                    pass
            run[name] = (harness.mariadb_seconds() - before) / (count * size) * 1e6
        return run

    for r in range(rounds):
        run, foreign = harness.measured(f"round {r + 1}", measurement)
        noise.append(foreign)
        for name, us in run.items():
            per_round[name].append(us)
        harness.log(
            f"round {r + 1}: "
            + ", ".join(f"{name} {us:.1f}" for name, us in run.items())
            + f" us of MariaDB CPU per sample (others: {foreign:.0f}% of a core)"
        )
    conn.close()
    medians = {name: harness.median(values) for name, values in per_round.items()}
    result = {
        "benchmark": "write_cost",
        "unit": "microseconds of MariaDB CPU per sample (per transaction for the single-sample shapes)",
        "samples_per_batch": SAMPLES_PER_BATCH,
        "rounds": per_round,
        "median_us": medians,
        "fold_share_single": 1 - medians["sample"] / medians["whole write"],
        "fold_share_batch": 1 - medians["batch samples"] / medians["batch whole write"],
        "others_cpu_percent": noise,
        "machine": harness.machine(),
    }
    for name, us in medians.items():
        harness.log(f"{name:<20} {us:7.1f} us")
    harness.log(
        f"the fold's share of the server's work: {result['fold_share_single']:.0%} of a single sample's"
        f" transaction, {result['fold_share_batch']:.0%} of a batch's"
    )
    harness.save("write_cost", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--transactions", type=int, default=3000, help="single-sample transactions per shape and round")
    parser.add_argument("--batches", type=int, default=40, help="batch transactions per shape and round")
    args = parser.parse_args()
    main(args.rounds, args.transactions, args.batches)
