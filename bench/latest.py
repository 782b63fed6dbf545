"""Latest values of 20,000 series: GET /monitor/resources/latest/ (every series, no filter).

bench_latest holds 200 hosts x 100 metric names, one sample each, stored
through the write path (monitor.storage.inserts.store), so the catalog and
the latest values (rollup step 0) are what production writes. Requests go one
at a time to gunicorn on it; each answer must list 20,000 rows. The baseline
is the SQL the view sends (captured in-process) timed over raw mysqlclient.

    .venv/bin/python bench/latest.py [--rounds 3] [--requests 20]
"""

import argparse
import json

import harness

URL = "/monitor/resources/latest/"
TARGET_MS = 100.0  # issue 12


def main(rounds: int = 3, requests: int = 20) -> dict:
    series = harness.LATEST_HOSTS * len(harness.NAMES)
    harness.log(f"== latest of {series:,} series: {rounds} rounds x {requests} requests")
    db = harness.prepare_latest()
    with harness.Gunicorn(name="latest", db=db) as server:
        client = harness.Client(server.port)
        status, answer, cold = client.get(URL)
        assert status == 200, (status, answer[:300])
        body = json.loads(answer)
        rows = body if isinstance(body, list) else body["results"]
        assert len(rows) == series, len(rows)
        for _ in range(2 * harness.WORKERS):  # warm every worker
            client.get(URL)
        latencies, noise = harness.get_latencies(
            client, {"latest": URL}, rounds, requests, lambda run: f"median {harness.ms(harness.median(run['latest']))}"
        )
    summary = harness.latency_summary(URL, latencies["latest"], requests, db)
    result = {
        "benchmark": "latest",
        "series": series,
        "answer_bytes": len(answer),
        "rounds": rounds,
        "requests": requests,
        "others_cpu_percent": noise,
        "first_request_ms": cold * 1000,
        "target_ms": TARGET_MS,
        **summary,
    }
    harness.log(
        f"latest of {series:,} series ({len(answer) / 2**20:.1f} MiB of JSON): median {summary['median_ms']:.1f} ms"
        f" (p95 {summary['p95_ms']:.1f} ms); its SQL alone {summary['sql_median_ms']:.1f} ms; target < 100 ms"
    )
    harness.save("latest", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    main(args.rounds, args.requests)
