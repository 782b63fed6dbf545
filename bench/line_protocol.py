"""InfluxDB line protocol into MySQL: samples/s parsed, parsed + stored, over HTTP, vs raw executemany.

Self-contained (no bench/harness.py). The stream is what Telegraf sends:
HOSTS hosts x 10 measurements x 10 fields (one sample per field) per 10 s
interval, 1,000 lines (Telegraf's metric_batch_size) per request, one
timestamp per interval. Sides, in the same run, one after the other:

    raw    mysqlclient executemany of (series_id, ts, value) into a copy of
           monitor_sample, one transaction per request's samples
    parse  monitor/ingest/line_protocol.py alone (text -> Points)
    store  parse + store() in this process, per request
    http   gunicorn (--workers W), CLIENTS concurrent senders POSTing to /api/v2/write

    DATABASE_URL=mysql://root@127.0.0.1:3306/prom_db_django \\
        .venv/bin/python bench/line_protocol.py [--hosts 100] [--intervals 5] [--workers 2] [--clients 2]
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "db_django.settings")
os.environ.setdefault("DATABASE_URL", "mysql://root@127.0.0.1:3306/prom_db_django?read_timeout=120&write_timeout=120")

import remote_write as rw  # noqa: E402  (its gunicorn runner; it sets Django up)
from django.db import connection  # noqa: E402

from monitor.ingest import line_protocol  # noqa: E402
from monitor.models import Sample  # noqa: E402

LINES_PER_REQUEST = 1000
MEASUREMENTS = [f"m{i}" for i in range(10)]
FIELDS = [f"f{i}" for i in range(10)]


def bodies(hosts: int, interval: int, t0_s: int) -> list[bytes]:
    rng = random.Random(interval)
    stamp = (t0_s + 10 * interval) * 1_000_000_000
    lines = [
        f"{m},host=bench-lp-{h:03d},region=eu "
        + ",".join(f"{f}={rng.uniform(0, 100):.3f}" for f in FIELDS)
        + f" {stamp}"
        for h in range(hosts)
        for m in MEASUREMENTS
    ]
    return ["\n".join(lines[i : i + LINES_PER_REQUEST]).encode() for i in range(0, len(lines), LINES_PER_REQUEST)]


def samples_in(stream: list[bytes]) -> int:
    return sum(body.count(b"\n") + 1 for body in stream) * len(FIELDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--intervals", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    assert connection.vendor == "mysql", "DATABASE_URL must point at MySQL/MariaDB"
    t0 = int(time.time()) - 3 * 3600 + random.randrange(10_000)
    now = int(time.time() * 1_000_000)
    for body in bodies(args.hosts, 0, t0):  # creates the series, as in steady state
        Sample.objects.store(line_protocol.points(body.decode(), "ns", now))
    stream = [b for k in range(1, args.intervals + 1) for b in bodies(args.hosts, k, t0)]
    n = samples_in(stream)
    print(f"stream: {len(stream)} requests of {LINES_PER_REQUEST} lines x {len(FIELDS)} fields, {n} samples")

    rows = [
        [(i + 1, (t0 + 10 * k) * 1_000_000, float(i)) for i in range(start, start + LINES_PER_REQUEST * len(FIELDS))]
        for k in range(1, args.intervals + 1)
        for start in range(0, args.hosts * len(MEASUREMENTS) * len(FIELDS), LINES_PER_REQUEST * len(FIELDS))
    ]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_sample")
        cursor.execute("CREATE TABLE bench_raw_sample LIKE monitor_sample")
    raw = connection.connection
    started = time.perf_counter()
    with raw.cursor() as cursor:
        for batch in rows:
            cursor.executemany("INSERT INTO bench_raw_sample (series_id, ts, value) VALUES (%s, %s, %s)", batch)
            raw.commit()
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_raw_sample")
    print(f"raw executemany: {sum(map(len, rows)) / seconds:,.0f} samples/s")

    started = time.perf_counter()
    for body in stream:
        line_protocol.points(body.decode(), "ns", now)
    print(f"parse only:      {n / (time.perf_counter() - started):,.0f} samples/s")

    started = time.perf_counter()
    for body in stream:
        Sample.objects.store(line_protocol.points(body.decode(), "ns", now))
    print(f"parse + store(): {n / (time.perf_counter() - started):,.0f} samples/s")

    stream2 = [b for k in range(args.intervals + 1, 2 * args.intervals + 1) for b in bodies(args.hosts, k, t0)]
    seconds, posted = rw.http_side(stream2, args.workers, args.clients, path="/api/v2/write", content_type="text/plain")
    per_request = LINES_PER_REQUEST * len(FIELDS)
    print(
        f"HTTP /api/v2/write (gunicorn -w {args.workers}, {args.clients} senders): "
        f"{posted * per_request / seconds:,.0f} samples/s"
    )


if __name__ == "__main__":
    main()
