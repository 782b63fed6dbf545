"""A 30-day, 1,000-point series at 100M-sample scale (issue 12): the rollup tiers of a full month.

100,000,000 samples in 30 days at one sample per 10 s is 386 series; a month of
them leaves 386 x 43,200 per-minute rollups and 386 x 720 per-hour rollups, which
are loaded (in SQL, into bench_month, partitioned by monitor/storage/partitions.py)
without the raw samples: raw retention keeps 7 days, and a 30-day query never reads
them. 30 days at 1,000 points is a 43-minute step: not whole hours, so the minute
tier serves it (43,200 rows of one series). Requested one at a time from gunicorn;
the baseline is the SQL it sends, timed over a raw mysqlclient connection.

    .venv/bin/python bench/month.py [--rounds 3] [--requests 50]
"""

import argparse
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import harness

DB = "bench_month"
SERIES = 386  # 100M samples / (30 days / 10 s)
END = datetime(2026, 11, 27, tzinfo=UTC)
START = END - timedelta(days=30)
URL = "/monitor/resources/series/?" + urlencode(
    {"name": "metric.7", "host": "host-2", "since": harness.iso(START), "until": harness.iso(END), "step": "43m"}
)


def load() -> None:
    """The month's rollups, unless bench_month already holds them."""
    if harness.database_exists(DB):
        conn = harness.connect(DB)
        loaded = harness.scalar(conn, "SELECT COUNT(*) FROM monitor_rollup WHERE step = 60") == SERIES * 43_200
        conn.close()
        if loaded:
            return
    harness.recreate(DB)
    harness.migrate(DB)
    harness.setup_django(DB)
    from monitor.storage.names import series_key
    from monitor.storage.partitions import partition_tables

    partition_tables(START, END)
    names = [(f"host-{i // 100}", f"metric.{i % 100}") for i in range(SERIES)]
    conn = harness.connect(DB)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO monitor_series (`key`, name, metric, host, labels, description, unit, first_seen)"
            " VALUES (%s, %s, %s, %s, '{}', '', '', NOW())",
            [(series_key(host, name), name, name, host) for host, name in names],
        )
    start = int(START.timestamp())
    harness.execute(
        conn,
        "INSERT INTO monitor_rollup (series_id, step, bucket, count, sum, min, max, last, last_ts)"
        f" SELECT s.id, 60, {start} + m.seq * 60, 6, 6 * (50 + 40 * SIN(m.seq / 97 + s.id)), 10, 90, 50,"
        f" ({start} + m.seq * 60 + 50) * 1000000 FROM monitor_series s CROSS JOIN seq_0_to_43199 m",
    )
    harness.execute(
        conn,
        "INSERT INTO monitor_rollup (series_id, step, bucket, count, sum, min, max, last, last_ts)"
        " SELECT series_id, 3600, bucket DIV 3600 * 3600, SUM(count), SUM(sum), MIN(min), MAX(max), 50, MAX(last_ts)"
        " FROM monitor_rollup WHERE step = 60 GROUP BY series_id, bucket DIV 3600",
    )
    conn.close()


def main(rounds: int = 3, requests: int = 50) -> dict:
    harness.log(f"== 30 days at 1,000 points over a 100M-sample month's tiers: {rounds} rounds x {requests}")
    load()
    with harness.Gunicorn(name="month", db=DB) as server:
        client = harness.Client(server.port)
        status, answer, _ = client.get(URL)
        points = len(json.loads(answer)["points"])
        assert status == 200 and points >= 1000, (status, points)
        latencies, noise = harness.get_latencies(
            client, {"month": URL}, rounds, requests, lambda run: f"median {harness.ms(harness.median(run['month']))}"
        )
    result = {
        "benchmark": "month",
        "series": SERIES,
        "points": points,
        "others_cpu_percent": noise,
        **harness.latency_summary(URL, latencies["month"], requests, DB),
        "target": "< 50 ms",
    }
    harness.log(
        f"30 days, {points} points: median {result['median_ms']:.1f} ms (p95 {result['p95_ms']:.1f} ms); "
        f"its SQL alone {result['sql_median_ms']:.1f} ms"
    )
    harness.save("month", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    main(args.rounds, args.requests)
