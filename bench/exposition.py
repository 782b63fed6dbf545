"""/monitor/metrics for 10,000 live series: time of the whole answer, and prometheus-client vs hand formatting.

Self-contained (no bench/harness.py). Stores one latest value for SERIES series
(100 hosts x 100 metrics named like our collectors', with mount/interface
labels on some) at the current time, then, ROUNDS times each, in this process:

    query    the catalog + latest values (one SELECT joining series and rollups)
    client   prometheus-client: Metric families + its text encoder
    ours     the same bytes written out by monitor/exposition/series.py (what the view does)
    view     GET /monitor/metrics?host=... for all of them through Django's test client

and prints the median of each.

    .venv/bin/python bench/exposition.py [--series 10000]

The database is bench_exposition on the shared server (created and migrated
when missing), or DATABASE_URL. Other processes' CPU during the run is printed.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import harness  # noqa: E402  (bench/ is on the path when run as a script)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "db_django.settings")
if "DATABASE_URL" not in os.environ:
    if not harness.database_exists("bench_exposition"):
        harness.migrate("bench_exposition")
    os.environ["DATABASE_URL"] = harness.database_url("bench_exposition") + "?read_timeout=120&write_timeout=120"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from prometheus_client.exposition import generate_latest  # noqa: E402
from prometheus_client.metrics_core import Metric  # noqa: E402

from monitor.exposition.naming import rule  # noqa: E402
from monitor.exposition.series import exposition, live  # noqa: E402
from monitor.exposition.views import _Families  # noqa: E402
from monitor.models import Sample  # noqa: E402
from monitor.storage.inserts import Point  # noqa: E402

HOSTS = [f"bench-expo-{i:03d}" for i in range(100)]
METRICS = [
    *[f"cpu.{m}_percent" for m in ("user", "system", "iowait", "steal")],
    *[f"disk.used_bytes:/data{i}" for i in range(20)],
    *[f"net.rx_bytes_per_second:eth{i}" for i in range(20)],
    *[f"memory.m{i}_bytes" for i in range(56)],
]


def client_format(rows) -> bytes:
    """The same answer through prometheus-client: Metric families, then its text encoder."""
    picked = {}
    for row in rows:
        name, scale, native = rule(row.metric)
        labels = dict(row.labels or {})
        if row.host and "host" not in labels and "instance" not in labels:
            labels["host"] = row.host
        key = (name, *sorted(labels.items()))
        if key not in picked or row.ts > picked[key][0]:
            picked[key] = (row.ts, row.value * scale, row.description, native, labels)
    found = {}
    for key in sorted(picked):
        _, value, description, native, labels = picked[key]
        family = found.get(key[0])
        if family is None:
            family = found[key[0]] = Metric(key[0], description or key[0], "unknown" if native else "gauge")
        family.add_sample(key[0], labels, value)
    return generate_latest(_Families(list(found.values())))


def timed(call, rounds: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    window = harness.CpuWindow(count_mariadb=False).start()
    hosts = HOSTS[: max(1, args.series // len(METRICS))]
    now = int(time.time() * 1_000_000)
    points = [Point(m, h, now, float(i)) for h in hosts for i, m in enumerate(METRICS)][: args.series]
    for start in range(0, len(points), 5000):
        Sample.objects.store(points[start : start + 5000])
    since = now - 60_000_000
    settings.HOST_STALE_AFTER = 3600
    print(f"{len(points)} live series on {len(hosts)} hosts ({connection.vendor})")
    seconds, rows = timed(lambda: live(hosts, since), args.rounds)
    print(f"query:   {seconds * 1000:7.1f} ms ({len(rows)} rows)")
    seconds, text = timed(lambda: client_format(rows), args.rounds)
    print(f"client:  {seconds * 1000:7.1f} ms (prometheus-client Metric families + its text encoder)")
    seconds, hand = timed(lambda: exposition(rows).encode(), args.rounds)
    print(f"ours:    {seconds * 1000:7.1f} ms (monitor/exposition/series.py, written out, {len(hand)} bytes)")
    assert hand == text, "the two formatters disagree"
    client = Client()
    query = "&".join(f"host={h}" for h in hosts)
    seconds, answer = timed(lambda: client.get(f"/monitor/metrics?{query}"), args.rounds)
    assert answer.status_code == 200 and answer.content.count(b"\n") >= len(points)
    print(f"view:    {seconds * 1000:7.1f} ms (GET /monitor/metrics, {len(answer.content)} bytes)")
    print(f"other processes (MariaDB not counted) used {window.stop():.0f}% of a core during the run")


if __name__ == "__main__":
    main()
