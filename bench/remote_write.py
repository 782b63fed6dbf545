"""Prometheus remote write into MySQL: samples/s through /api/v1/write and in-process, vs raw executemany.

Self-contained (no bench/harness.py). The stream is what a remote-writing
Prometheus sends: SERIES node_exporter-like series (5 labels each), one sample
per series per scrape (15 s apart), cut into WriteRequests of 2,000 samples
(Prometheus' max_samples_per_send), snappy-compressed protobuf. Three sides
store the same number of samples, one after the other, in the same run:

    raw    mysqlclient executemany of (series_id, ts, value) into a copy of
           monitor_sample (same schema: compressed, partitioned), one
           transaction per 2,000 rows: the ceiling for the sample rows alone
    store  in this process: snappy + protobuf decode, Points, store() (series
           ids, samples, rollups + latest values, hosts), per request
    http   gunicorn (--workers W) on the same database, CLIENTS concurrent
           senders (Prometheus' shards) POSTing the bodies

    DATABASE_URL=mysql://root@127.0.0.1:3306/prom_db_django \\
        .venv/bin/python bench/remote_write.py [--series 10000] [--scrapes 5] [--workers 2] [--clients 2]

The database must be migrated; series the run creates stay (host bench-rw-*).
"""

import argparse
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "db_django.settings")
os.environ.setdefault("DATABASE_URL", "mysql://root@127.0.0.1:3306/prom_db_django?read_timeout=120&write_timeout=120")

import cramjam  # noqa: E402
import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from monitor.ingest import prompb, remote_write  # noqa: E402
from monitor.models import Sample  # noqa: E402

BATCH = 2000
INTERVAL_MS = 15_000


def labels_of(i: int) -> list[tuple[str, str]]:
    return [
        ("__name__", f"node_bench_metric_{i % 100}"),
        ("cpu", str(i % 16)),
        ("instance", f"bench-rw-{i // 1000}:9100"),
        ("job", "node"),
        ("mode", f"m{i // 100 % 10}"),
    ]


def bodies(series: int, scrape: int, t0: int) -> list[bytes]:
    """One scrape of every series as snappy WriteRequests of BATCH samples."""
    out = []
    rng = random.Random(scrape)
    for start in range(0, series, BATCH):
        request = prompb.WriteRequest()
        for i in range(start, min(series, start + BATCH)):
            ts = request.timeseries.add()
            for name, value in labels_of(i):
                ts.labels.add(name=name, value=value)
            ts.samples.add(value=round(rng.uniform(0, 1000), 3), timestamp=t0 + scrape * INTERVAL_MS)
        out.append(bytes(cramjam.snappy.compress_raw(request.SerializeToString())))
    return out


def store_side(stream: list[bytes]) -> float:
    started = time.perf_counter()
    for body in stream:
        points, _ = remote_write.points(remote_write.decode(body, 64 * 1024 * 1024))
        Sample.objects.store(points)
    return time.perf_counter() - started


def raw_side(series: int, scrapes: int, t0: int) -> float:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_sample")
        cursor.execute("CREATE TABLE bench_raw_sample LIKE monitor_sample")
    rows = [
        [(i + 1, (t0 + k * INTERVAL_MS) * 1000, float(i)) for i in range(start, min(series, start + BATCH))]
        for k in range(scrapes)
        for start in range(0, series, BATCH)
    ]
    raw = connection.connection  # the MySQLdb connection: no Django in the measured loop
    started = time.perf_counter()
    with raw.cursor() as cursor:
        for batch in rows:
            cursor.executemany("INSERT INTO bench_raw_sample (series_id, ts, value) VALUES (%s, %s, %s)", batch)
            raw.commit()
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_raw_sample")
    return seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_side(
    stream: list[bytes],
    workers: int,
    clients: int,
    path: str = "/api/v1/write",
    content_type: str = "application/x-protobuf",
    encoding: str = "snappy",
) -> tuple[float, int]:
    """Seconds to POST all but the warm-up bodies with `clients` senders, and how many were timed."""
    port = free_port()
    env = {**os.environ, "DJANGO_DEBUG": "1", "API_REQUIRE_AUTH": "0", "MONITOR_MYSQL_URLS": ""}
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-remote-write-gunicorn.log", "wb")
    command = [str(Path(sys.executable).with_name("gunicorn")), "db_django.wsgi", "-b", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(
        [*command, "-w", str(workers), "--log-level", "warning"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/monitor/health/", timeout=5)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

        def post(body: bytes) -> None:
            headers = {"Content-Type": content_type}
            if content_type == "application/x-protobuf":
                headers["Content-Encoding"] = encoding
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers=headers)
            with urllib.request.urlopen(request, timeout=60) as answer:
                assert answer.status == 204, answer.status

        for body in stream[: 2 * workers]:  # warm every worker: imports, catalog cache
            post(body)
        rest = stream[2 * workers :]
        queue = list(reversed(rest))
        lock = threading.Lock()

        def sender() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                post(body)

        started = time.perf_counter()
        threads = [threading.Thread(target=sender) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started, len(rest)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    assert connection.vendor == "mysql", "DATABASE_URL must point at MySQL/MariaDB"
    # A time base no earlier run used: each side writes new instants (no repeats, no conflicts).
    t0 = (int(time.time()) - 3 * 3600) * 1000 + random.randrange(1000)
    per_scrape = args.series
    print(f"stream: {args.series} series x {args.scrapes} scrapes, {BATCH} samples per WriteRequest")
    warm = bodies(args.series, 0, t0)
    store_side(warm)  # creates the series: the measured runs find them in the catalog, as in steady state
    stream = [body for k in range(1, args.scrapes + 1) for body in bodies(args.series, k, t0)]
    print(f"bodies: {len(stream)}, {sum(map(len, stream)) / len(stream) / 1024:.0f} KiB each (snappy)")
    seconds = raw_side(args.series, args.scrapes, t0)
    n = per_scrape * args.scrapes
    print(f"raw executemany: {n} samples in {seconds:.2f} s = {n / seconds:,.0f} samples/s")
    seconds = store_side(stream)
    print(f"decode + store():  {n} samples in {seconds:.2f} s = {n / seconds:,.0f} samples/s")
    stream2 = [body for k in range(args.scrapes + 1, 2 * args.scrapes + 1) for body in bodies(args.series, k, t0)]
    seconds, posted = http_side(stream2, args.workers, args.clients)
    n = posted * BATCH
    print(
        f"HTTP /api/v1/write (gunicorn -w {args.workers}, {args.clients} senders): "
        f"{n} samples in {seconds:.2f} s = {n / seconds:,.0f} samples/s"
    )


if __name__ == "__main__":
    main()
