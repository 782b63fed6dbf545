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

with wall-clock samples/s and samples per CPU-second, as bench/remote_write.py
(whose private MariaDB, gunicorn runner and CPU counting it uses).

    .venv/bin/python bench/line_protocol.py [--private-mariadb [--rollups-dynamic]] [--hosts 100] [--intervals 4]
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import remote_write as rw  # noqa: E402  (its private MariaDB, gunicorn runner, CPU counting)

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


def store_all(stream: list[bytes], now: int) -> float:
    from monitor.ingest import line_protocol
    from monitor.models import Sample

    started = time.perf_counter()
    for body in stream:
        Sample.objects.store(line_protocol.points(body.decode(), "ns", now))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--intervals", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--private-mariadb", action="store_true")
    parser.add_argument("--rollups-dynamic", action="store_true", help="as bench/remote_write.py")
    args = parser.parse_args()
    with rw.database(args.private_mariadb) as server:
        rw.others(measure, args, server)


def measure(args, server) -> None:
    from django.db import connection

    from monitor.ingest import line_protocol

    assert connection.vendor == "mysql", "DATABASE_URL must point at MySQL/MariaDB"
    if args.rollups_dynamic:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE monitor_rollup ROW_FORMAT=DYNAMIC KEY_BLOCK_SIZE=0")
    t0 = int(time.time()) - 3 * 3600 + random.randrange(10_000)
    now = int(time.time() * 1_000_000)
    per_interval = args.hosts * len(MEASUREMENTS) * len(FIELDS)
    print(f"{args.hosts} hosts x {len(MEASUREMENTS)} measurements x {len(FIELDS)} fields per 10 s interval,")
    print(f"{LINES_PER_REQUEST} lines per request, {args.intervals} intervals per side")
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores)")
    rw.set_fold_watermark(t0 * 1_000_000)  # as the folder keeps it: writes fold only their latest values
    store_all(bodies(args.hosts, 0, t0), now)  # creates the series: the sides find them in the catalog
    intervals = range(1, args.intervals + 1)
    stream = [b for k in intervals for b in bodies(args.hosts, k, t0)]
    n = per_interval * args.intervals
    per_request = LINES_PER_REQUEST * len(FIELDS)
    rows = [
        [(i + 1, (t0 + 10 * k) * 1_000_000, float(i)) for i in range(start, start + per_request)]
        for k in intervals
        for start in range(0, per_interval, per_request)
    ]
    cpu = rw.Cpu(mariadb=server).start()
    rw.report("raw executemany (sample rows only)", n, rw.raw_side(rows), cpu.stop())
    cpu = rw.Cpu().start()
    started = time.perf_counter()
    for body in stream:
        line_protocol.points(body.decode(), "ns", now)
    rw.report("parse only", n, time.perf_counter() - started, cpu.stop())
    later = [b for k in range(args.intervals + 1, 2 * args.intervals + 1) for b in bodies(args.hosts, k, t0)]
    cpu = rw.Cpu(mariadb=server).start()
    rw.report("parse + store() in process", n, store_all(stream, now), cpu.stop())
    warm_intervals = range(100, 100 + 3 * args.workers)  # the newest samples of the run
    warm = [b for k in warm_intervals for b in bodies(args.hosts, k, t0)]
    with rw.gunicorn(args.workers) as (port, web):
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        rw.http_side(port, warm, args.clients, "/api/v2/write", headers)
        cpu = rw.Cpu(mariadb=server, web=web).start()
        seconds = rw.http_side(port, later, args.clients, "/api/v2/write", headers)
        rw.report(f"POST /api/v2/write (-w {args.workers}, {args.clients} senders)", n, seconds, cpu.stop())
    from django.conf import settings

    from monitor.storage.folding import fold_pending

    cpu = rw.Cpu(mariadb=server).start()  # the folder's work for every side's samples, a minute at a time
    past_newest = t0 + 10 * warm_intervals[-1] + 70  # seconds: a minute past the newest sample, and then some
    fold = fold_pending(now_us=(past_newest + settings.ROLLUP_FOLD_DELAY) * 1_000_000)
    rw.report("fold of every side's samples (fold-rollups task)", fold.samples, fold.seconds, cpu.stop())


if __name__ == "__main__":
    main()
