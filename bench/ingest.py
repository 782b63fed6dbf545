"""Bulk ingest: JSON arrays of 5,000 samples POSTed to /monitor/resources/ vs raw mysqlclient executemany.

Both sides store the same samples in the same run, one batch per transaction,
one batch at a time (one client, one connection), taking turns every 5
batches (ABBA), on the scratch database (bench_db_django, emptied first). The
raw side is the ceiling for the sample rows alone: (series_id, ts, value)
tuples prepared in advance, `cursor.executemany` (which mysqlclient turns into
multi-row INSERTs of up to 64 KiB each) into `bench_raw_sample`, a copy of
monitor_sample (CREATE TABLE LIKE: compressed, partitioned), then `commit()`.
The HTTP side includes everything a collector pays: HTTP, JSON parsing,
validation, the catalog lookup, the samples' INSERT, the upsert of their
latest values (storage/inserts.py), the answer. The minute and hour rollups of
the samples are folded afterwards, as the fold-rollups task does
(storage/folding.py): after each round this script runs that fold over the
round's samples, timed, and reports a second ratio, "sustained", that counts
the fold's time as if the writes had waited for it (the task runs beside them).

    .venv/bin/python bench/ingest.py [--rounds 3] [--batches 30]
"""

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta

import harness

URL = "/monitor/resources/"
BATCH = 5000  # BULK_MAX_ITEMS: the largest batch the API takes
CHUNK = 5  # batches per turn when the two sides take turns
AGENTS = [f"agent-{i:02d}" for i in range(BATCH // len(harness.NAMES))]
BASE = datetime(2026, 11, 26, tzinfo=UTC)
RAW_TABLE = "bench_raw_sample"
RAW_SQL = f"INSERT INTO {RAW_TABLE} (series_id, ts, value) VALUES (%s, %s, %s)"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def make_batches(first: int, count: int) -> list[list[dict]]:
    """`count` collection cycles of 50 agents x 100 metrics, each cycle with its own timestamp."""
    rng = random.Random(first)
    batches = []
    for k in range(first, first + count):
        at = (BASE + timedelta(seconds=10 * k)).isoformat().replace("+00:00", "Z")
        batches.append(
            [
                {
                    "name": name,
                    "value": round(rng.uniform(0, 100), 3),
                    "description": harness.description_of(name),
                    "host": agent,
                    "timestamp": at,
                }
                for agent in AGENTS
                for name in harness.NAMES
            ]
        )
    return batches


def as_rows(batch: list[dict], ids: dict[tuple[str, str], int]) -> list[tuple]:
    """The samples as monitor_sample stores them: (series id, microseconds, value)."""
    rows = []
    for s in batch:
        at = datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00"))
        rows.append((ids[(s["host"], s["name"])], (at - EPOCH) // timedelta(microseconds=1), s["value"]))
    return rows


def series_ids(conn) -> dict[tuple[str, str], int]:
    with conn.cursor() as cur:
        cur.execute("SELECT host, name, id FROM monitor_series")
        return {(host, name): series_id for host, name, series_id in cur.fetchall()}


def http_ingest(client: harness.Client, bodies: list[bytes]) -> float:
    started = time.perf_counter()
    for body in bodies:
        status, answer, _ = client.post(URL, body)
        if status != 201 or json.loads(answer) != {"created": BATCH}:
            raise RuntimeError(f"POST answered {status}: {answer[:300]!r}")
    return time.perf_counter() - started


def raw_ingest(conn, batches: list[list[tuple]]) -> float:
    started = time.perf_counter()
    with conn.cursor() as cur:
        for rows in batches:
            cur.executemany(RAW_SQL, rows)
            conn.commit()
    return time.perf_counter() - started


def main(rounds: int = 3, batches: int = 30) -> dict:
    harness.log(f"== bulk ingest: {batches} x {BATCH} samples per side and round, {rounds} rounds")
    db = harness.prepare_scratch()
    harness.setup_django(db)
    from django.conf import settings

    from monitor.storage.folding import fold_pending

    def fold_before(batch: int):
        """The fold-rollups task, run as it would be when batch number `batch` is about to be written."""
        at = (BASE + timedelta(seconds=10 * batch) - EPOCH) // timedelta(microseconds=1)
        return fold_pending(now_us=at + settings.ROLLUP_FOLD_DELAY * 1_000_000)

    conn = harness.connect(db, autocommit=False)
    check = harness.connect(db)
    harness.execute(check, f"DROP TABLE IF EXISTS {RAW_TABLE}")
    harness.execute(check, f"CREATE TABLE {RAW_TABLE} LIKE monitor_sample")
    next_batch = 0
    results = {"raw": [], "http": [], "sustained": []}
    fold_seconds: list[float] = []
    noise = []
    cpu = {"raw": {}, "http": {}, "fold": {}}  # CPU by party (gunicorn, MariaDB, client, machine), all rounds
    with harness.Gunicorn(name="ingest") as server:
        client = harness.Client(server.port)
        # Warm-up: every worker imports and compiles what a batch needs; the raw connection too.
        warm = make_batches(next_batch, 2 * harness.WORKERS)
        next_batch += len(warm)
        http_ingest(client, [json.dumps(b).encode() for b in warm])
        ids = series_ids(check)  # the warm-up created every series
        raw_ingest(conn, [as_rows(b, ids) for b in make_batches(next_batch, 2)])
        next_batch += 2
        fold_before(next_batch)  # the warm-up's samples: each round's fold folds that round's
        for r in range(rounds):

            def measurement():
                # New instants for every attempt (a measurement disturbed by others is repeated).
                nonlocal next_batch
                data = make_batches(next_batch, batches)  # both sides store these very samples
                next_batch += batches
                raw_rows, bodies = [as_rows(b, ids) for b in data], [json.dumps(b).encode() for b in data]
                # Chunks of CHUNK batches in ABBA order: both sides see the same machine.
                seconds = {"raw": 0.0, "http": 0.0}
                used_cpu = {"raw": {}, "http": {}, "fold": {}}
                before = harness.table_count(check) + harness.table_count(check, RAW_TABLE)
                for i, start in enumerate(range(0, batches, CHUNK)):
                    for side in ("raw", "http") if i % 2 == 0 else ("http", "raw"):
                        split = harness.CpuSplit(server).start()
                        if side == "raw":
                            seconds[side] += raw_ingest(conn, raw_rows[start : start + CHUNK])
                        else:
                            seconds[side] += http_ingest(client, bodies[start : start + CHUNK])
                        for key, used in split.stop().items():
                            used_cpu[side][key] = used_cpu[side].get(key, 0.0) + used
                stored = harness.table_count(check) + harness.table_count(check, RAW_TABLE) - before
                assert stored == 2 * batches * BATCH, stored
                split = harness.CpuSplit(server).start()
                # The fold-rollups task's work for this round's samples: the minutes it has finished
                # (the last batches of a round wait for the next round's fold, as they would for the next run).
                fold = fold_before(next_batch)
                fold_used = split.stop()
                assert fold.samples > batches * BATCH // 2, fold
                scale = batches * BATCH / fold.samples  # time and CPU for as many samples as the round wrote
                for key, used in fold_used.items():
                    used_cpu["fold"][key] = used_cpu["fold"].get(key, 0.0) + used * scale
                seconds["fold"] = fold.seconds * scale
                return seconds, used_cpu

            (seconds, used_cpu), foreign = harness.measured(f"round {r + 1}", measurement)
            for side in cpu:
                for key, used in used_cpu[side].items():
                    cpu[side][key] = cpu[side].get(key, 0.0) + used
            for side in ("raw", "http"):
                results[side].append(batches * BATCH / seconds[side])
            results["sustained"].append(batches * BATCH / (seconds["http"] + seconds["fold"]))
            fold_seconds.append(seconds["fold"])
            noise.append(foreign)
            harness.log(
                f"round {r + 1}: raw {results['raw'][-1]:,.0f} rows/s, HTTP {results['http'][-1]:,.0f} rows/s,"
                f" ratio {results['http'][-1] / results['raw'][-1]:.2f}; fold {seconds['fold']:.2f} s,"
                f" sustained {results['sustained'][-1] / results['raw'][-1]:.2f} (others: {foreign:.0f}% of a core)"
            )
    conn.close()
    check.close()
    raw, http = harness.median(results["raw"]), harness.median(results["http"])
    sustained = harness.median(results["sustained"])
    result = {
        "benchmark": "ingest",
        "batch": BATCH,
        "rows_per_measurement": batches * BATCH,
        "rounds": rounds,
        "raw_rows_per_s": results["raw"],
        "http_rows_per_s": results["http"],
        "raw_median": raw,
        "http_median": http,
        "ratio": http / raw,
        "round_ratios": [h / w for h, w in zip(results["http"], results["raw"], strict=True)],
        "fold_seconds": fold_seconds,
        "sustained_rows_per_s": results["sustained"],
        "sustained_ratio": sustained / raw,
        "round_sustained_ratios": [h / w for h, w in zip(results["sustained"], results["raw"], strict=True)],
        "others_cpu_percent": noise,
        "cpu_us_per_row": {
            side: {key: used / (rounds * batches * BATCH) * 1e6 for key, used in cpu[side].items()} for side in cpu
        },
        "target": ">= 0.5 of raw",
    }
    for side, split in result["cpu_us_per_row"].items():
        harness.log(f"CPU per row, {side}: " + ", ".join(f"{k} {v:.1f} us" for k, v in split.items()))
    harness.log(
        f"bulk ingest median: HTTP {http:,.0f} rows/s, raw executemany {raw:,.0f} rows/s, "
        f"ratio {http / raw:.2f}, sustained (the fold counted) {sustained / raw:.2f} (target >= 0.5)"
    )
    harness.save("ingest", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=30, help="batches of 5,000 per side and round")
    args = parser.parse_args()
    main(args.rounds, args.batches)
