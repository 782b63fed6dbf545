"""List latency over the Resource view at 10M samples: the first page and a page 10,000 pages deep.

This benchmark found that MariaDB turned the walk's IN list of 1,000 series ids
into a join reading every sample (both pages took seconds, the deep one a 503);
the application's connections now keep IN lists as lists (db_django/env.py).

The deep page's cursor is made the way the API makes it (monitor/api/pagination.py
encode_cursor, signed with the bench settings' key) from the last row of page
9,999, found with one ORDER BY ... OFFSET query over the newest samples. Requests
are sent one at a time (latency, not throughput), alternating first/deep page,
to gunicorn on bench_10m. The baseline is the SQL the view sends (captured
in-process) timed over a raw mysqlclient connection: the rest is HTTP, Django,
DRF and serialisation.

    .venv/bin/python bench/list_pages.py [--rounds 3] [--requests 200]
"""

import argparse
import json

import harness

URL = "/monitor/resources/"
PAGE_SIZE = 100  # API_PAGE_SIZE default
DEEP_PAGE = 10_000


def deep_page(db: str, page: int = DEEP_PAGE) -> tuple[str, list[str]]:
    """(URL of page `page`, ids it must hold), newest first, from the samples themselves."""
    conn = harness.connect(db)
    skip = PAGE_SIZE * (page - 1) - 1
    # Newest first is (ts, series_id) descending; the page lies within the newest samples.
    newest = harness.scalar(conn, "SELECT MAX(last_ts) FROM monitor_rollup WHERE step = 0")
    span_us = (skip + PAGE_SIZE + 1) // harness.SERIES * harness.STEP_SECONDS * harness.US + 60 * harness.US
    with conn.cursor() as cur:
        cur.execute(
            "SELECT ts, series_id FROM monitor_sample WHERE ts > %s"
            " ORDER BY ts DESC, series_id DESC LIMIT %s OFFSET %s",
            [newest - span_us, PAGE_SIZE + 1, skip],
        )
        rows = cur.fetchall()
    conn.close()
    assert len(rows) == PAGE_SIZE + 1, len(rows)
    (last_ts, last_id), expected = rows[0], [f"{series_id}-{ts}" for ts, series_id in rows[1:]]
    harness.setup_django(db)
    from monitor.api.pagination import encode_cursor

    return f"{URL}?cursor={encode_cursor((last_ts, last_id), False, {})}", expected


def main(rounds: int = 3, requests: int = 200) -> dict:
    harness.log(f"== list latency at 10M samples: {rounds} rounds x {requests} requests per page")
    db = harness.prepare_data()
    deep_url, deep_ids = deep_page(db)
    pages = {"first": URL, "deep": deep_url}
    with harness.Gunicorn(name="list", db=db) as server:
        client = harness.Client(server.port)
        status, answer, _ = client.get(URL)
        first = json.loads(answer)
        assert status == 200 and len(first["results"]) == PAGE_SIZE and first["next"], status
        status, answer, _ = client.get(deep_url)
        deep = json.loads(answer)
        assert status == 200 and [row["id"] for row in deep["results"]] == deep_ids, (status, answer[:300])
        for _ in range(20 * harness.WORKERS):  # warm every worker
            client.get(URL)
            client.get(deep_url)

        latencies, noise = harness.get_latencies(
            client,
            pages,
            rounds,
            requests,
            lambda run: (
                f"first page median {harness.ms(harness.median(run['first']))}, "
                f"page {DEEP_PAGE:,} median {harness.ms(harness.median(run['deep']))}"
            ),
        )
    result = {
        "benchmark": "list",
        "samples": harness.DATASET_SAMPLES,
        "rounds": rounds,
        "requests": requests,
        "others_cpu_percent": noise,
    }
    for key, path in pages.items():
        result[key] = {**harness.latency_summary(path, latencies[key], requests, db), "target": "< 20 ms"}
        sql = result[key]["sql"]
        harness.log(
            f"{key} page: median {result[key]['median_ms']:.2f} ms (p95 {result[key]['p95_ms']:.2f} ms); "
            f"its SQL alone {result[key]['sql_median_ms']:.2f} ms ({len(sql)} statement(s))"
        )
    harness.save("list", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    main(args.rounds, args.requests)
