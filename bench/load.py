"""Bounded mixed load on gunicorn + MariaDB with the production settings; every acknowledged write is checked.

    .venv/bin/python bench/load.py [--seconds 60] [--clients 50] [--workers 4] [--threads 2]

What it does, in under three minutes (plus up to --quiet-wait seconds, 300 by default,
spent waiting for other processes on the machine to go under --quiet-limit % of a core):

1. creates the database `bench_load_db_django` (BENCH_LOAD_DB) on BENCH_MYSQL_URL
   (default mysql://root@127.0.0.1:3306/) and migrates it;
2. issues a read-write token with `manage.py tokens create load --scope write`;
3. starts gunicorn (`-w 4 --threads 2`, gthread) with production settings:
   DJANGO_DEBUG=0, a secret key, DJANGO_ALLOWED_HOSTS=127.0.0.1, no HTTPS redirect
   (plain HTTP on loopback), token auth required, API_WRITE_RATE=100000/minute and the
   throttle counters in Redis, as a multi-process deployment has: a redis-server of its
   own on a spare port, started here (or BENCH_CACHE_URL): no shared Redis is written;
4. runs `--clients` closed-loop clients (threads in a few processes, http.client
   with keep-alive, no dependency beyond the standard library) for `--seconds`, each
   request drawn from the mix: list 40 % (GET /monitor/resources/?page_size=100),
   latest 20 % (GET /monitor/resources/latest/?host=<tag>), single POST 30 %,
   bulk POST 10 % (100 samples);
5. reports per endpoint: requests, req/s, p50, p99, max, 5xx and other failures;
6. checks that the rows stored under this run's host tag equal the sum of rows the
   201 answers acknowledged (each run writes under a new tag, so nothing is deleted).

Exit status 1 if any answer was a 5xx, a request failed, or stored != acknowledged
(a 409, a second value of one series at one instant, is counted but is no failure).
Raw figures: $BENCH_OUT/<tag>.json, server log $BENCH_OUT/gunicorn-<tag>.log (default /tmp/db_django-bench/).
"""

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from harness import Gunicorn, connect, log  # shared with the other benchmarks

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("BENCH_LOAD_DB", "bench_load_db_django")
CACHE_URL = os.environ.get("BENCH_CACHE_URL", "")  # empty: a private redis-server (main)
MYSQL = urlsplit(os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/"))
OUT_DIR = Path(os.environ.get("BENCH_OUT", Path(tempfile.gettempdir()) / "db_django-bench"))
MIX = {"list": 40, "latest": 20, "post_one": 30, "post_bulk": 10}
BULK_SIZE = 100
CLIENT_PROCESSES = 5  # client threads are spread over processes so the GIL does not cap the load
NAMES = [
    *(f"cpu.{m}" for m in ("percent", "user_percent", "system_percent", "iowait_percent", "steal_percent")),
    *(f"load.{m}" for m in ("1m", "5m", "15m")),
    *(f"memory.{m}" for m in ("total_bytes", "available_bytes", "used_bytes", "used_percent")),
    *(f"disk.{m}:/" for m in ("total_bytes", "used_bytes", "free_bytes", "used_percent")),
    *(f"net.{m}:eth0" for m in ("rx_bytes_per_second", "tx_bytes_per_second")),
    *(f"mysql.{m}:127.0.0.1:3306" for m in ("threads_connected", "queries_per_second", "buffer_pool_hit_ratio")),
    "processes.total",
    "system.uptime_seconds",
]


# --- the server side ------------------------------------------------------------------------------
def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def app_env(var_dir: Path, cache_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "db_django.settings",
        "DATABASE_URL": f"{MYSQL.scheme}://{MYSQL.netloc}/{DB_NAME}",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "API_WRITE_RATE": "100000/minute",
        "VAR_DIR": str(var_dir),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("API_REQUIRE_AUTH", None)  # production default: tokens required
    env.pop("API_PUBLIC_READS", None)
    if cache_url and reachable(cache_url, 6379):
        env["CACHE_URL"] = cache_url
    return env


def private_redis() -> tuple[subprocess.Popen, str]:
    """A redis-server of our own on a spare port (no persistence), and its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not reachable(url, port) and time.monotonic() < deadline:
        time.sleep(0.1)
    return proc, url


def manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


# --- the client side ------------------------------------------------------------------------------
class Client:
    """One keep-alive connection; reopened after the server closes it or a request fails."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.headers = {"Authorization": f"Token {token}", "Connection": "keep-alive"}
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        if response.will_close:
            self.conn.close()
            self.conn = None
        return response.status, data


def sample(tag: str, rng: random.Random, timestamp: str | None = None) -> dict:
    item = {"name": rng.choice(NAMES), "value": round(rng.uniform(0, 100), 3), "host": tag}
    if timestamp:
        item["timestamp"] = timestamp
    return item


def requests_of(kind: str, tag: str, rng: random.Random) -> tuple[str, str, bytes | None]:
    if kind == "list":
        return "GET", "/monitor/resources/?page_size=100", None
    if kind == "latest":
        return "GET", f"/monitor/resources/latest/?host={tag}", None
    if kind == "post_one":
        return "POST", "/monitor/resources/", json.dumps(sample(tag, rng)).encode()
    # An agent flushing its buffer: the last BULK_SIZE samples, each with its own time.
    start = datetime.now(UTC) - timedelta(seconds=BULK_SIZE)
    items = [sample(tag, rng, (start + timedelta(seconds=i)).isoformat()) for i in range(BULK_SIZE)]
    return "POST", "/monitor/resources/", json.dumps(items).encode()


def client_thread(port, token, tag, seed, deadline, results, lock) -> None:
    rng = random.Random(seed)
    client = Client(port, token)
    kinds, weights = list(MIX), list(MIX.values())
    mine = {kind: {"latencies": [], "statuses": {}, "created": 0, "errors": []} for kind in MIX}
    while time.time() < deadline:
        kind = rng.choices(kinds, weights)[0]
        method, path, body = requests_of(kind, tag, rng)
        entry = mine[kind]
        started = time.perf_counter()
        try:
            status, data = client.request(method, path, body)
        except (OSError, http.client.HTTPException) as exc:
            entry["errors"].append(f"{type(exc).__name__}: {exc}")
            continue
        entry["latencies"].append(time.perf_counter() - started)
        entry["statuses"][status] = entry["statuses"].get(status, 0) + 1
        if status == 201:
            answer = json.loads(data)
            entry["created"] += answer.get("created", 1)
    with lock:
        results.append(mine)


def client_process(port, token, tag, seeds, deadline, queue) -> None:
    results, lock = [], threading.Lock()
    threads = [
        threading.Thread(target=client_thread, args=(port, token, tag, seed, deadline, results, lock)) for seed in seeds
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(results)


def run_load(port: int, token: str, tag: str, clients: int, seconds: float) -> tuple[dict, float]:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    deadline = time.time() + seconds
    seeds = list(range(clients))
    procs = [
        ctx.Process(target=client_process, args=(port, token, tag, seeds[i::CLIENT_PROCESSES], deadline, queue))
        for i in range(min(CLIENT_PROCESSES, clients))
    ]
    started = time.time()
    for proc in procs:
        proc.start()
    per_thread = [result for _ in procs for result in queue.get()]
    for proc in procs:
        proc.join()
    elapsed = time.time() - started
    merged = {kind: {"latencies": [], "statuses": {}, "created": 0, "errors": []} for kind in MIX}
    for result in per_thread:
        for kind, entry in result.items():
            merged[kind]["latencies"] += entry["latencies"]
            merged[kind]["created"] += entry["created"]
            merged[kind]["errors"] += entry["errors"]
            for status, count in entry["statuses"].items():
                merged[kind]["statuses"][status] = merged[kind]["statuses"].get(status, 0) + count
    return merged, elapsed


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarise(merged: dict, elapsed: float) -> dict:
    rows = {}
    for kind, entry in merged.items():
        latencies = sorted(entry["latencies"])
        statuses = {int(k): v for k, v in entry["statuses"].items()}
        rows[kind] = {
            "requests": len(latencies),
            "per_second": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "max_ms": (latencies[-1] if latencies else float("nan")) * 1000,
            "statuses": statuses,
            "5xx": sum(v for k, v in statuses.items() if k >= 500),
            "other_non_2xx": sum(v for k, v in statuses.items() if k < 200 or 300 <= k < 500),
            "request_errors": len(entry["errors"]),
            "error_examples": sorted(set(entry["errors"]))[:5],
            "created_rows": entry["created"],
        }
    return rows


def machine() -> dict:
    with connect(None) as conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        server = cur.fetchone()[0]
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), platform.processor())
    import django
    import gunicorn

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "database": server,
    }


def others_cpu_percent(before: dict, after: dict, mine: set[int], elapsed: float) -> float:
    """CPU used by processes this run did not start (other tests, benchmarks), in % of one core."""
    used = sum(after[pid] - before[pid] for pid in after.keys() & before.keys() if pid not in mine)
    return 100 * used / elapsed


def cpu_by_pid() -> dict[int, float]:
    seconds = {}
    for proc in psutil.process_iter(["cpu_times"]):
        times = proc.info["cpu_times"]
        if times is not None:
            seconds[proc.pid] = times.user + times.system
    return seconds


def wait_until_quiet(limit: float, longest: float) -> float:
    """Wait (at most `longest` s) until other processes use under `limit` % of a core; returns the wait."""
    started = time.monotonic()
    mine = {os.getpid()}
    while True:
        before = cpu_by_pid()
        time.sleep(3)
        busy = others_cpu_percent(before, cpu_by_pid(), mine, 3)
        waited = time.monotonic() - started
        if busy < limit or waited >= longest:
            log(f"other processes: {busy:.0f} % of a core after waiting {waited:.0f} s")
            return waited


def table(rows: dict) -> str:
    lines = [
        "| endpoint | requests | req/s | p50 ms | p99 ms | max ms | 5xx | other non-2xx | failed requests |"
        " rows acknowledged |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "list": "GET /monitor/resources/?page_size=100",
        "latest": "GET /monitor/resources/latest/?host=<tag>",
        "post_one": "POST /monitor/resources/ (1 sample)",
        "post_bulk": f"POST /monitor/resources/ ({BULK_SIZE} samples)",
    }
    for kind, r in rows.items():
        lines.append(
            f"| {labels[kind]} | {r['requests']:,} | {r['per_second']:,.1f} | {r['p50_ms']:,.1f} | {r['p99_ms']:,.1f}"
            f" | {r['max_ms']:,.0f} | {r['5xx']} | {r['other_non_2xx']} | {r['request_errors']}"
            f" | {r['created_rows']:,} |"
        )
    total = sum(r["requests"] for r in rows.values())
    per_second = sum(r["per_second"] for r in rows.values())
    lines.append(f"| all | {total:,} | {per_second:,.1f} | | | | {sum(r['5xx'] for r in rows.values())} | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker (1: sync workers)")
    parser.add_argument("--quiet-limit", type=float, default=25, help="%% of a core others may use before we start")
    parser.add_argument("--quiet-wait", type=float, default=300, help="seconds to wait for that, then start anyway")
    args = parser.parse_args(argv)

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    tag = f"load-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    info = machine()
    log("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))

    with connect(None) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{DB_NAME}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    with tempfile.TemporaryDirectory(prefix="db_django-load-") as var_dir:
        redis_proc, cache_url = (None, CACHE_URL) if CACHE_URL else private_redis()
        env = app_env(Path(var_dir), cache_url)
        started = time.perf_counter()
        manage(env, "migrate", "--noinput", "-v", "0")
        token = manage(env, "tokens", "create", f"load {tag}", "--scope", "write").strip().splitlines()[-1]
        log(f"migrated {DB_NAME} and issued a write token in {time.perf_counter() - started:.1f} s")
        with connect(DB_NAME) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM monitor_resource")
            rows_before = cur.fetchone()[0]
        auth = {"Authorization": f"Token {token}"}
        gunicorn = Gunicorn(
            args.workers,
            tag,
            threads=args.threads,
            env=env,
            ready_path="/monitor/resources/?page_size=1",
            ready_headers=auth,
        )
        logfile = gunicorn.logfile
        with gunicorn as server:
            log(
                f"gunicorn -w {args.workers} --threads {args.threads} on 127.0.0.1:{server.port}, DJANGO_DEBUG=0, "
                f"cache {'redis' if 'CACHE_URL' in env else 'locmem'}; table holds {rows_before:,} rows; "
                f"{args.clients} clients for {args.seconds:g} s, tag {tag}"
            )
            wait_until_quiet(args.quiet_limit, args.quiet_wait)
            mine = {os.getpid(), server.proc.pid, *(c.pid for c in psutil.Process(server.proc.pid).children())}
            cpu_before, load_before = cpu_by_pid(), os.getloadavg()[0]
            merged, elapsed = run_load(server.port, token, tag, args.clients, args.seconds)
            cpu_after = cpu_by_pid()
            mariadb = {p.pid for p in psutil.process_iter(["name"]) if p.info["name"] in ("mariadbd", "mysqld")}
            others = others_cpu_percent(cpu_before, cpu_after, mine | mariadb, elapsed)
        with connect(DB_NAME) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM monitor_resource WHERE host = %s", [tag])
            stored = cur.fetchone()[0]
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)

    rows = summarise(merged, elapsed)
    acknowledged = sum(r["created_rows"] for r in rows.values())
    # A 409 is the API's answer to a second value of one series at one instant (two bulk
    # bodies drawing the same instant): an answer, not a failure.
    failures = sum(r["5xx"] + r["request_errors"] for r in rows.values())
    log("")
    log(table(rows))
    log("")
    log(f"elapsed {elapsed:.1f} s; load average before {load_before:.2f}; other processes: {others:.0f} % of a core")
    log(f"rows stored under {tag}: {stored:,}; acknowledged by 201 answers: {acknowledged:,}")
    for kind, r in rows.items():
        if r["error_examples"]:
            log(f"{kind}: failed requests, e.g. {r['error_examples']}")
    ok = failures == 0 and stored == acknowledged
    log("OK: no 5xx, no failed request, every acknowledged row stored" if ok else f"FAILED (see {logfile})")
    result = {
        "tag": tag,
        "machine": info,
        "args": vars(args),
        "elapsed": elapsed,
        "rows_before": rows_before,
        "stored": stored,
        "acknowledged": acknowledged,
        "others_cpu_percent": others,
        "endpoints": rows,
    }
    (OUT_DIR / f"{tag}.json").write_text(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
