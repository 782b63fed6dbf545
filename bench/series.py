"""Series latency: 24 h of one metric on one host at 1-minute steps, in a 10M-row table.

The first run loads the 10M rows (100 metrics x 10 hosts, one sample per 10 s,
27.8 hours, generated inside MariaDB); later runs reuse them. Requests are
sent one at a time; each answer must hold 1,440 points. `aggregate=last` (a
window function) is measured too, for information. The baseline is the SQL
the view sends (captured in-process) timed over a raw mysqlclient connection.

    .venv/bin/python bench/series.py [--rounds 3] [--requests 50]
"""

import argparse
import json
from datetime import timedelta
from urllib.parse import urlencode

import harness

NAME, HOST = "cpu.percent", "web-1"
UNTIL = harness.DATASET_END
SINCE = UNTIL - timedelta(hours=24)
POINTS = 24 * 60


def series_url(aggregate: str) -> str:
    query = {
        "name": NAME,
        "host": HOST,
        "since": SINCE.isoformat().replace("+00:00", "Z"),
        "until": UNTIL.isoformat().replace("+00:00", "Z"),
        "step": "1m",
        "aggregate": aggregate,
    }
    return f"/monitor/resources/series/?{urlencode(query)}"


def main(rounds: int = 3, requests: int = 50) -> dict:
    harness.log(f"== series over 24 h at 1 m steps in 10M rows: {rounds} rounds x {requests} requests")
    harness.log(f"table: {harness.prepare('10m')}")
    paths = {"avg": series_url("avg"), "last": series_url("last")}
    with harness.Gunicorn(name="series") as server:
        client = harness.Client(server.port)
        cold = {}
        for key, path in paths.items():
            status, answer, cold[key] = client.get(path)
            assert status == 200, (status, answer[:300])
            points = json.loads(answer)["points"]
            assert len(points) == POINTS, len(points)
        for _ in range(3 * harness.WORKERS):  # warm every worker
            for path in paths.values():
                client.get(path)

        latencies, noise = harness.get_latencies(
            client,
            paths,
            rounds,
            requests,
            lambda run: (
                f"avg median {harness.ms(harness.median(run['avg']))}, "
                f"last median {harness.ms(harness.median(run['last']))}"
            ),
        )
    result = {
        "benchmark": "series",
        "rows": harness.DATASET_ROWS["10m"],
        "rounds": rounds,
        "requests": requests,
        "others_cpu_percent": noise,
    }
    for key, path in paths.items():
        result[key] = {**harness.latency_summary(path, latencies[key], requests), "first_request_ms": cold[key] * 1000}
        harness.log(
            f"series aggregate={key}: median {result[key]['median_ms']:.2f} ms "
            f"(p95 {result[key]['p95_ms']:.2f} ms, first request {cold[key] * 1000:.1f} ms); "
            f"its SQL alone {result[key]['sql_median_ms']:.2f} ms" + ("; target < 100 ms" if key == "avg" else "")
        )
    result["avg"]["target"] = "< 100 ms"
    harness.save("series", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    main(args.rounds, args.requests)
