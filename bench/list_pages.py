"""List latency at 1M rows: the first page and a page 10,000 pages deep, beside the SQL they send.

The deep page's cursor is built the way the API builds it (base64 of JSON
[timestamp, id, 0], monitor/api/pagination.py Cursor.encode) from the last row of
page 9,999, found with one OFFSET query; bench/memory.py walks the `next`
links from page 1 to the same page and checks they agree. Requests are sent
one at a time (latency, not throughput), alternating first/deep page. The
baseline is the same SQL the view sends (captured in-process) timed over a raw
mysqlclient connection: the rest is HTTP, Django, DRF and serialisation.

    .venv/bin/python bench/list_pages.py [--rounds 3] [--requests 200]
"""

import argparse
import base64
import json
from datetime import UTC

import harness

URL = "/monitor/resources/"
PAGE_SIZE = 100  # API_PAGE_SIZE default
DEEP_PAGE = 10_000


def encode_cursor(timestamp, row_id: int) -> str:
    raw = json.dumps([timestamp.replace(tzinfo=UTC).isoformat(), row_id, 0])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def deep_page(conn, page: int = DEEP_PAGE) -> tuple[str, list[int]]:
    """(URL of page `page`, ids it must hold), newest first, from the table itself."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT timestamp, id FROM {harness.TABLE} ORDER BY timestamp DESC, id DESC LIMIT %s OFFSET %s",
            [PAGE_SIZE + 1, PAGE_SIZE * (page - 1) - 1],
        )
        rows = cur.fetchall()
    (last_ts, last_id), expected = rows[0], [row_id for _, row_id in rows[1:]]
    return f"{URL}?cursor={encode_cursor(last_ts, last_id)}", expected


def main(rounds: int = 3, requests: int = 200) -> dict:
    harness.log(f"== list latency at 1M rows: {rounds} rounds x {requests} requests per page")
    harness.log(f"table: {harness.prepare('1m')}")
    conn = harness.connect()
    deep_url, deep_ids = deep_page(conn)
    conn.close()
    pages = {"first": URL, "deep": deep_url}
    with harness.Gunicorn(name="list") as server:
        client = harness.Client(server.port)
        status, answer, _ = client.get(URL)
        first = json.loads(answer)
        assert status == 200 and len(first["results"]) == PAGE_SIZE and first["next"], status
        status, answer, _ = client.get(deep_url)
        deep = json.loads(answer)
        assert status == 200 and [row["id"] for row in deep["results"]] == deep_ids, status
        assert deep["next"] is None, "page 10,000 of 1M rows is the last page"
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
        "rows": harness.DATASET_ROWS["1m"],
        "rounds": rounds,
        "requests": requests,
        "others_cpu_percent": noise,
    }
    for key, path in pages.items():
        result[key] = {**harness.latency_summary(path, latencies[key], requests), "target": "< 20 ms"}
        sql = result[key]["sql"]
        harness.log(
            f"{key} page: median {result[key]['median_ms']:.2f} ms (p95 {result[key]['p95_ms']:.2f} ms); "
            f"its SQL alone {result[key]['sql_median_ms']:.2f} ms ({len(sql)} statement(s)); target < 20 ms"
        )
    harness.save("list", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    main(args.rounds, args.requests)
