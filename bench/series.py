"""Series latency from each storage tier at 10M samples: raw 1 h, minute tier 24 h, hour tier 30 days.

One metric of one host (cpu.percent on web-1), aggregate=avg, requested one at a
time from gunicorn on bench_10m; each answer must hold every point:

    raw     1 h at 10 s steps (360 points): a step below a minute reads raw samples
    minute  24 h at 1 minute steps (1,440 points): the per-minute rollups
    hour    30 days at 1 hour steps (720 points): the per-hour rollups

(A step of whole minutes reads the minute tier, of whole hours the hour tier:
monitor/storage/queries.py plan. 30 days at 1,000 points is a 43.2-minute
step, which the hour tier cannot serve; 1 h is the whole-hour step nearest.)
The baseline is the SQL each request sends (captured in-process) timed over a
raw mysqlclient connection.

With `--folded-behind SECONDS` the fold watermark (monitor/storage/folding.py)
is set that far before the data set's end, rounded down to a minute, as on a
MySQL installation whose folder runs: each read then also reads the watermark,
and takes the buckets past it from the raw samples. The data set's tiers hold
every sample either way; the watermark goes back to NULL afterwards.

    .venv/bin/python bench/series.py [--rounds 3] [--requests 50] [--folded-behind 120]
"""

import argparse
import json
from datetime import timedelta
from urllib.parse import urlencode

import harness

NAME, HOST = "cpu.percent", "web-1"
UNTIL = harness.DATASET_END
TIERS = {  # tier: (range, step, points)
    "raw": (timedelta(hours=1), "10s", 360),
    "minute": (timedelta(hours=24), "1m", 1440),
    "hour": (timedelta(days=30), "1h", 720),
}
TARGETS = {"hour": 50.0}  # ms, issue 12: 30 days of one series


def series_url(span: timedelta, step: str) -> str:
    query = {"name": NAME, "host": HOST, "since": harness.iso(UNTIL - span), "until": harness.iso(UNTIL), "step": step}
    return f"/monitor/resources/series/?{urlencode(query)}"


def main(rounds: int = 3, requests: int = 50, folded_behind: int | None = None) -> dict:
    harness.log(f"== series from each tier at 10M samples: {rounds} rounds x {requests} requests per tier")
    db = harness.prepare_data()
    if folded_behind is None:
        return measure(db, rounds, requests)
    end_us = int(UNTIL.timestamp()) * 1_000_000
    watermark = (end_us - folded_behind * 1_000_000) // 60_000_000 * 60_000_000
    harness.log(f"fold watermark {folded_behind} s before the data set's end: {watermark} us")
    conn = harness.connect(db)
    try:
        harness.execute(conn, "UPDATE monitor_foldwatermark SET until_us = %s WHERE id = 1", [watermark])
        return measure(db, rounds, requests, {"folded_behind_s": folded_behind, "watermark_us": watermark})
    finally:
        harness.execute(conn, "UPDATE monitor_foldwatermark SET until_us = NULL WHERE id = 1")
        conn.close()


def measure(db: str, rounds: int, requests: int, fold: dict | None = None) -> dict:
    paths = {tier: series_url(span, step) for tier, (span, step, _) in TIERS.items()}
    with harness.Gunicorn(name="series", db=db) as server:
        client = harness.Client(server.port)
        cold = {}
        for tier, path in paths.items():
            status, answer, cold[tier] = client.get(path)
            assert status == 200, (status, answer[:300])
            points = json.loads(answer)["points"]
            assert len(points) == TIERS[tier][2], (tier, len(points))
        for _ in range(3 * harness.WORKERS):  # warm every worker
            for path in paths.values():
                client.get(path)

        latencies, noise = harness.get_latencies(
            client,
            paths,
            rounds,
            requests,
            lambda run: ", ".join(f"{tier} median {harness.ms(harness.median(run[tier]))}" for tier in paths),
        )
    result = {
        "benchmark": "series",
        "samples": harness.DATASET_SAMPLES,
        "rounds": rounds,
        "requests": requests,
        "others_cpu_percent": noise,
        "fold_watermark": fold,
    }
    for tier, path in paths.items():
        summary = harness.latency_summary(path, latencies[tier], requests, db)
        result[tier] = {**summary, "points": TIERS[tier][2], "first_request_ms": cold[tier] * 1000}
        if tier in TARGETS:
            result[tier]["target_ms"] = TARGETS[tier]
        harness.log(
            f"{tier}: median {summary['median_ms']:.2f} ms (p95 {summary['p95_ms']:.2f} ms, first request"
            f" {cold[tier] * 1000:.1f} ms); its SQL alone {summary['sql_median_ms']:.2f} ms"
            + (f"; target < {TARGETS[tier]:g} ms" if tier in TARGETS else "")
        )
    harness.save("series" if fold is None else "series_folded", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--folded-behind", type=int, default=None, help="seconds; the watermark stays NULL without")
    args = parser.parse_args()
    main(args.rounds, args.requests, args.folded_behind)
