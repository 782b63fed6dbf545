"""CPU cost of sampling this machine every second: our worker against node_exporter and Glances.

    .venv/bin/python bench/collector_cost.py [--seconds 60] [--runs 3] [--server-interval 10]
        [--subjects worker-host,worker-full,node_exporter,glances] [--worker "celery args"]

One run measures every subject in turn, one at a time, in a rotating order (the
next run starts with the next subject), so a change in the machine's load hits
them all. A subject is started, warmed up (15 s, and for the worker two stored
cycles), then its processes' utime+stime (/proc/<pid>/stat, children included)
is read at both ends of a window: CPU seconds / wall seconds x 100 = percent of
one core. Medians over the runs. The machine's other load in each window (all
CPU time in /proc/stat minus the subject's) is recorded beside it.

Subjects:
- worker-host: the Procfile's worker and beat commands at METRICS_INTERVAL=1,
  server and queue status switched off (SERVER_METRICS_INTERVAL=86400): host
  metrics only, like for like with the two anchors.
- worker-full: the same with server and queue status every --server-interval
  seconds (MariaDB, Redis, the task queue: what a production worker runs).
- node_exporter: Debian's /usr/bin/prometheus-node-exporter, default
  collectors, scraped every second by a small scraper in this process that
  asks as Prometheus does (same Accept and gzip); only the exporter is counted.
- glances: Glances from PyPI in a private venv (created here), sampling every
  second and exporting to a CSV file: `glances -q -t 1 --export csv
  --export-csv-file FILE` (default plugins, process list included).

The worker runs in production settings (DJANGO_DEBUG=0) on a MariaDB database of
its own (BENCH_COST_DB, dropped, created and migrated here) and on a private
redis-server on a spare port as its broker; no shared Redis is touched.
Results: $BENCH_OUT/collector_cost (default /tmp/db_django-bench/collector_cost),
with a report (COLLECTOR_COST.md) there; the figures are quoted in BENCHMARKS.md.
"""

import argparse
import contextlib
import gzip
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import MySQLdb
import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OUT = Path(os.environ.get("BENCH_OUT", Path(tempfile.gettempdir()) / "db_django-bench"))
OUT_DIR = OUT / "collector_cost"
REPORT = OUT_DIR / "COLLECTOR_COST.md"  # the figures go to BENCHMARKS.md
DB_NAME = os.environ.get("BENCH_COST_DB", "bench_collector_cost")
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "passwd": "", "charset": "utf8mb4", "autocommit": True}
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
GLANCES_VENV = OUT / "glances-venv"
HOST = "cost-bench"  # MONITOR_HOSTNAME of the worker's rows
HOST_ONLY = 86400  # SERVER_METRICS_INTERVAL that never comes due within a run
WARMUP = 15.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Prometheus 2.42's scrape request headers.
SCRAPE_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "User-Agent": "Prometheus/2.42.0",
    "X-Prometheus-Scrape-Timeout-Seconds": "1",
}
SUBJECTS = ("worker-host", "worker-full", "node_exporter", "glances")


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S ") + message, flush=True)


# --- processes and CPU time ----------------------------------------------------------------------
def ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of one process in clock ticks (0 once it is gone).

    The children's fields hold what reaped children used, so a pool process
    replaced during the window is counted once.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(v) for v in fields[11:15])


def tree(pid: int) -> dict[int, int]:
    """Ticks of a process and each of its descendants, by pid."""
    try:
        pids = [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        return {}
    return {p: ticks(p) for p in pids}


def cpu_seconds(before: dict[int, int], after: dict[int, int], which: Callable[[int], bool] = lambda _: True) -> float:
    return sum(after[p] - before.get(p, 0) for p in after if which(p)) / CLK_TCK


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores, from /proc/stat)."""
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    """Processes in their own session, logging to files; stop() ends each by its pid (SIGTERM, then SIGKILL)."""

    def __init__(self) -> None:
        self.running: list[tuple[subprocess.Popen, object]] = []

    def start(self, args: list[str], logfile: Path, env: dict | None = None) -> subprocess.Popen:
        out = open(logfile, "ab")
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append((proc, out))
        return proc

    def stop(self, proc: subprocess.Popen, grace: float = 15.0) -> None:
        # SIGTERM to the main process only: Celery's warm shutdown stops its own pool.
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: whatever it left behind
        proc.wait()
        for entry in [e for e in self.running if e[0] is proc]:
            entry[1].close()
            self.running.remove(entry)

    def stop_all(self) -> None:
        for proc, _ in reversed(list(self.running)):
            self.stop(proc)


def wait_until(ready: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


@contextlib.contextmanager
def private_redis(procs: Procs, work: Path) -> Iterator[str]:
    """A redis-server of our own on a spare port, no persistence; yields its URL."""
    port = free_port()
    proc = procs.start(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(work)],
        work / "redis.log",
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def up() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until(up, 10, "redis-server")
        yield url
    finally:
        client.close()
        procs.stop(proc)


# --- the worker ----------------------------------------------------------------------------------
def procfile_command(name: str) -> list[str]:
    """A process's command line from the Procfile, with the celery of this interpreter's venv."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            args = shlex.split(line.split(":", 1)[1])
            return [str(BIN / "celery") if a.endswith("bin/celery") else a for a in args]
    raise KeyError(name)


def create_database() -> None:
    conn = MySQLdb.connect(**MYSQL)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{DB_NAME}`")
        cur.execute(f"CREATE DATABASE `{DB_NAME}` CHARACTER SET utf8mb4")
    conn.close()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=worker_env(OUT_DIR / "var", "redis://127.0.0.1:1/0", HOST_ONLY),
        check=True,
    )


def worker_env(var_dir: Path, broker: str, server_interval: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "CELERY_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="db_django.settings",
        DATABASE_URL=f"mysql://root@127.0.0.1:3306/{DB_NAME}",
        CELERY_BROKER_URL=broker,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-only-secret-key-collector-cost-0123456789-abcdefghijklmnopqrstuvwxyz",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        VAR_DIR=str(var_dir),
        MONITOR_HOSTNAME=HOST,
        METRICS_INTERVAL="1",
        SERVER_METRICS_INTERVAL=str(server_interval),
    )
    return env


def stored_cycles(since_us: int, until_us: int) -> dict[str, int]:
    """Host and server cycles the worker stored with timestamps in [since, until)."""
    conn = MySQLdb.connect(db=DB_NAME, **MYSQL)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT r.name, COUNT(*) FROM monitor_sample s JOIN monitor_series r ON r.id = s.series_id"
            " WHERE r.host = %s AND r.name IN ('memory.used_percent', 'celery.broker_up')"
            " AND s.ts >= %s AND s.ts < %s GROUP BY r.name",
            [HOST, since_us, until_us],
        )
        found = dict(cur.fetchall())
    conn.close()
    return {"host_cycles": found.get("memory.used_percent", 0), "server_cycles": found.get("celery.broker_up", 0)}


@dataclass
class Running:
    """A started subject: the process trees whose CPU counts, by role, and what it did in a window."""

    roles: dict[str, int]  # role -> pid of the tree's root
    done: Callable[[float, float], dict] = lambda t0, t1: {}
    stop: Callable[[], None] = lambda: None
    facts: dict = field(default_factory=dict)


def start_worker(
    procs: Procs, work: Path, broker: str, server_interval: int, worker_args: list[str], beat_args: list[str]
) -> Running:
    redis.Redis.from_url(broker).flushall()  # our private server: every run starts from an empty broker
    env = worker_env(work / "var", broker, server_interval)
    worker = procs.start(worker_args, work / "worker.log", env)
    beat = procs.start([*beat_args, "-s", str(work / "beat-schedule")], work / "beat.log", env)
    started_us = int(time.time() * 1e6)

    def warm() -> bool:
        for proc in (worker, beat):
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[:3]} exited with {proc.returncode}: see {work}")
        return stored_cycles(started_us, 2**62)["host_cycles"] >= 2

    wait_until(warm, 90, "two stored host cycles")

    def done(t0: float, t1: float) -> dict:
        return stored_cycles(int(t0 * 1e6), int(t1 * 1e6))

    def stop() -> None:
        procs.stop(beat)
        procs.stop(worker)

    commands = {"command": shlex.join(worker_args[1:]), "beat_command": shlex.join(beat_args[1:])}
    return Running({"worker": worker.pid, "beat": beat.pid}, done, stop, commands)


# --- the anchors ---------------------------------------------------------------------------------
class Scraper(threading.Thread):
    """GETs /metrics every second on one kept-alive connection, as Prometheus would."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.stopping, self.times, self.sizes = port, threading.Event(), [], []

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        next_at = time.monotonic()
        while not self.stopping.is_set():
            conn.request("GET", "/metrics", headers=SCRAPE_HEADERS)
            response = conn.getresponse()
            body = response.read()
            if response.status == 200:
                self.times.append(time.time())
                self.sizes.append(len(gzip.decompress(body)) if response.getheader("Content-Encoding") else len(body))
            next_at += 1.0
            self.stopping.wait(max(0.0, next_at - time.monotonic()))
        conn.close()


def start_node_exporter(procs: Procs, work: Path) -> Running:
    port = free_port()
    proc = procs.start([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"], work / "node_exporter.log")
    wait_until(lambda: _listening(port), 10, "node_exporter")
    scraper = Scraper(port)
    scraper.start()
    time.sleep(WARMUP)

    def done(t0: float, t1: float) -> dict:
        inside = [s for t, s in zip(scraper.times, scraper.sizes, strict=True) if t0 <= t < t1]
        return {"scrapes": len(inside), "bytes_per_scrape": statistics.median(inside) if inside else 0}

    def stop() -> None:
        scraper.stopping.set()
        scraper.join(5)
        procs.stop(proc)

    return Running({"node_exporter": proc.pid}, done, stop)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def glances_bin() -> Path:
    """Glances from PyPI in a venv of its own (created on first use)."""
    glances = GLANCES_VENV / "bin" / "glances"
    if not glances.exists():
        subprocess.run([sys.executable, "-m", "venv", str(GLANCES_VENV)], check=True)
        subprocess.run([str(GLANCES_VENV / "bin" / "pip"), "install", "-q", "glances"], check=True)
    return glances


def start_glances(procs: Procs, work: Path) -> Running:
    csv = work / "glances.csv"
    args = [str(glances_bin()), "-q", "-t", "1", "--export", "csv", "--export-csv-file", str(csv)]
    env = {**os.environ, "HOME": str(work)}  # its log file and config lookups stay in the run's folder
    proc = procs.start(args, work / "glances.log", env)
    wait_until(lambda: csv.exists() and csv.stat().st_size > 0, 30, "Glances' first CSV line")
    time.sleep(WARMUP)
    lines_at: dict[str, int] = {}

    def count_lines() -> int:
        return csv.read_bytes().count(b"\n")

    lines_at["start"] = count_lines()

    def done(t0: float, t1: float) -> dict:
        return {"samples": count_lines() - lines_at["start"]}

    return Running({"glances": proc.pid}, done, lambda: procs.stop(proc), {"command": shlex.join(args[1:])})


# --- one window ----------------------------------------------------------------------------------
def measure(subject: str, running: Running, seconds: float) -> dict:
    before = {role: tree(pid) for role, pid in running.roles.items()}
    busy0, load1 = machine_busy(), os.getloadavg()[0]
    t0, m0 = time.time(), time.monotonic()
    time.sleep(seconds)
    after = {role: tree(pid) for role, pid in running.roles.items()}
    busy1, wall, t1 = machine_busy(), time.monotonic() - m0, time.time()
    for role, pid in running.roles.items():
        if pid not in after[role]:
            raise RuntimeError(f"{subject}: {role} died during the window")
    pct = {role: 100 * cpu_seconds(before[role], after[role]) / wall for role in running.roles}
    if "worker" in running.roles:
        main = running.roles["worker"]
        pct["worker_main"] = 100 * cpu_seconds(before["worker"], after["worker"], lambda p: p == main) / wall
        pct["worker_pool"] = pct["worker"] - pct["worker_main"]
    total = sum(pct[role] for role in running.roles)
    others = 100 * (busy1 - busy0) / wall - total
    return {"subject": subject, "wall_s": wall, "pct": total, "parts": pct, "others_pct": others, "load1": load1,
            **running.facts, **running.done(t0, t1)}  # fmt: skip


# --- report --------------------------------------------------------------------------------------
def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    conn = MySQLdb.connect(**MYSQL)
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        mariadb = cur.fetchone()[0]
    conn.close()

    def version(args: list[str]) -> str:
        out = subprocess.run(args, capture_output=True, text=True).stdout + " "
        return out.split("\n")[0].strip()

    from importlib.metadata import version as package

    return {
        "cpus": os.cpu_count(),
        "cpu": model.group(1).strip() if model else platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mariadb": mariadb,
        "redis": "Redis " + version(["redis-server", "--version"]).split("v=")[-1].split()[0],
        "node_exporter": version([NODE_EXPORTER, "--version"]),
        "glances": " ".join(version([str(glances_bin()), "--version"]).split()),
        "celery": package("celery"),
        "kombu": package("kombu"),
        "psutil": package("psutil"),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
    }


def summarize(results: list[dict]) -> dict[str, dict]:
    by: dict[str, list[dict]] = {}
    for r in results:
        by.setdefault(r["subject"], []).append(r)
    summary = {}
    for subject, runs in by.items():
        keys = {k for r in runs for k, v in r.items() if isinstance(v, int | float)} - {"pct"}
        summary[subject] = {
            "pct": statistics.median(r["pct"] for r in runs),
            "runs": [r["pct"] for r in runs],
            "parts": {k: statistics.median(r["parts"][k] for r in runs) for k in runs[0]["parts"]},
            **{k: statistics.median(r.get(k, 0) for r in runs) for k in keys},
            "command": runs[0].get("command", ""),
            "beat_command": runs[0].get("beat_command", ""),
        }
    return summary


DOES = {
    "worker-host": "host metrics stored every 1 s (server and queue status off)",
    "worker-full": "host every 1 s + MariaDB, Redis, queue every {server} s, stored",
    "node_exporter": "default collectors, scraped every 1 s (gzip, as Prometheus asks)",
    "glances": "every plugin (process list included) every 1 s, CSV export",
}


def write_report(saved: dict) -> None:
    summary, info, args = summarize(saved["results"]), saved["info"], saved["args"]
    lines = [
        "# Collector cost: our worker against node_exporter and Glances, every second",
        "",
        "Command (the figures below are from this run):",
        "",
        "```",
        saved["command"],
        "```",
        "",
        f"Machine: {info['cpus']} cores ({info['cpu']}), Linux {info['kernel']}, Python {info['python']},"
        f" MariaDB {info['mariadb']}, {info['redis']}; Celery {info['celery']}, kombu {info['kombu']},"
        f" psutil {info['psutil']}; {info['node_exporter']}; {info['glances']}. Code: commit {info['commit']}"
        f" (with the working tree as it was). {args['runs']} runs of {args['seconds']:g} s windows per subject,"
        f" interleaved (one subject at a time, order rotated each run), {saved['started']} to {saved['ended']}"
        f" UTC, {saved['minutes']:.1f} min.",
        "",
        "| subject | what it does | % of one core, median | runs | machine's other load, % of one core | work done"
        " in the window |",
        "|---|---|---|---|---|---|",
    ]
    for subject, s in summary.items():
        if subject.startswith("worker"):
            parts = s["parts"]
            pool = f" + pool processes {parts['worker_pool']:.2f}" if parts["worker_pool"] else ""
            split = f" (worker {parts['worker_main']:.2f}{pool} + beat {parts['beat']:.2f})"
            work = f"{s['host_cycles']:.0f} host cycles, {s['server_cycles']:.0f} server cycles stored"
        else:
            split = ""
            work = (
                f"{s['scrapes']:.0f} scrapes of {s['bytes_per_scrape'] / 1024:.0f} KiB"
                if "scrapes" in s
                else f"{s['samples']:.0f} CSV lines"
            )
        lines.append(
            f"| {subject} | {DOES[subject].format(server=args['server_interval'])} | **{s['pct']:.2f}**{split}"
            f" | {' / '.join(f'{p:.2f}' for p in s['runs'])} | {s['others_pct']:.0f} (load {s['load1']:.1f})"
            f" | {work} |"
        )
    worker_cmd = summary.get("worker-host", summary.get("worker-full", {})).get("command", "")
    beat_cmd = summary.get("worker-host", summary.get("worker-full", {})).get("beat_command", "")
    glances_cmd = summary.get("glances", {}).get("command", "")
    lines += [
        "",
        "Every window in the order run (subject: % of one core; the machine's other load, % of one core):",
        "",
        *(
            f"- run {i // len(summary) + 1}: "
            + "; ".join(
                f"{r['subject']} {r['pct']:.2f} ({r['others_pct']:.0f})" for r in saved["results"][i : i + len(summary)]
            )
            for i in range(0, len(saved["results"]), len(summary))
        ),
    ]
    lines += [
        "",
        "Worker figures are the worker's process (its pool threads, or pool processes with prefork), plus beat."
        " Percent = utime+stime over the window / wall time x 100."
        ' "Machine\'s other load" is everything else the machine ran in the window (/proc/stat busy time minus'
        " the subject), median: the quieter, the more comparable.",
        "",
        f"- Worker: `celery {worker_cmd}` and `celery {beat_cmd}` (the Procfile's), METRICS_INTERVAL=1,"
        f" production settings (DJANGO_DEBUG=0), MariaDB database `{DB_NAME}`, broker a private redis-server;"
        f" worker-host sets SERVER_METRICS_INTERVAL={HOST_ONLY} (never due in a run), worker-full"
        f" SERVER_METRICS_INTERVAL={args['server_interval']} with MONITOR_MYSQL_URLS / MONITOR_REDIS_URLS at"
        " their defaults (the app's MariaDB and the broker).",
        f"- node_exporter: `{NODE_EXPORTER} --web.listen-address=127.0.0.1:PORT` (default collectors), scraped"
        " every second by a thread of the benchmark over one kept-alive connection with Prometheus 2.42's"
        " headers (Accept: OpenMetrics, Accept-Encoding: gzip); only the exporter's CPU counts.",
        f"- Glances: `glances {glances_cmd}` from a venv at {GLANCES_VENV}.",
    ]
    REPORT.write_text("\n".join(lines) + "\n")
    log(f"-> {REPORT}")


# --- main ----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="window per subject and run (default 60)")
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported (default 3)")
    parser.add_argument("--server-interval", type=int, default=10, help="SERVER_METRICS_INTERVAL of worker-full")
    parser.add_argument("--subjects", default=",".join(SUBJECTS), help=f"comma-separated, of {', '.join(SUBJECTS)}")
    parser.add_argument("--worker", help="celery worker arguments instead of the Procfile's (after `celery`)")
    parser.add_argument("--beat", help="celery beat arguments instead of the Procfile's (after `celery`)")
    parser.add_argument("--no-report", action="store_true", help="print the figures, leave the .md alone")
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md from the last saved results")
    args = parser.parse_args()
    saved_path = OUT_DIR / "results.json"
    if args.report_only:
        write_report(json.loads(saved_path.read_text()))
        return
    subjects = [s for s in args.subjects.split(",") if s]
    worker_args = [str(BIN / "celery"), *shlex.split(args.worker)] if args.worker else procfile_command("worker")
    beat_args = [str(BIN / "celery"), *shlex.split(args.beat)] if args.beat else procfile_command("beat")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # unwind: stop what we started
    started, clock = time.strftime("%Y-%m-%d %H:%M", time.gmtime()), time.monotonic()
    info = machine()
    if any(s.startswith("worker") for s in subjects):
        create_database()
    procs, results = Procs(), []
    try:
        with private_redis(procs, OUT_DIR) as broker:
            starters: dict[str, Callable[[Path], Running]] = {
                "worker-host": lambda w: start_worker(procs, w, broker, HOST_ONLY, worker_args, beat_args),
                "worker-full": lambda w: start_worker(procs, w, broker, args.server_interval, worker_args, beat_args),
                "node_exporter": lambda w: start_node_exporter(procs, w),
                "glances": lambda w: start_glances(procs, w),
            }
            for run in range(args.runs):
                for subject in subjects[run % len(subjects) :] + subjects[: run % len(subjects)]:
                    work = OUT_DIR / f"run{run + 1}-{subject}"
                    shutil.rmtree(work, ignore_errors=True)
                    work.mkdir(parents=True)
                    running = starters[subject](work)
                    try:
                        result = measure(subject, running, args.seconds)
                    finally:
                        running.stop()
                    results.append(result)
                    parts = ", ".join(f"{k} {v:.2f}" for k, v in result["parts"].items())
                    extra = {
                        k: v for k, v in result.items() if k in ("host_cycles", "server_cycles", "scrapes", "samples")
                    }
                    log(f"run {run + 1} {subject}: {result['pct']:.2f}% ({parts}); others"
                        f" {result['others_pct']:.0f}%, load {result['load1']:.1f}; {extra}")  # fmt: skip
    finally:
        procs.stop_all()
    saved = {
        "command": " ".join(
            [*(f"{k}={os.environ[k]}" for k in ("BENCH_COST_DB", "BENCH_OUT") if k in os.environ)]
            + [".venv/bin/python bench/collector_cost.py", *map(shlex.quote, sys.argv[1:])]
        ),
        "args": vars(args),
        "info": info,
        "results": results,
        "started": started,
        "ended": time.strftime("%H:%M", time.gmtime()),
        "minutes": (time.monotonic() - clock) / 60,
    }
    for subject, s in summarize(results).items():
        log(f"median {subject}: {s['pct']:.2f}% of one core (runs {', '.join(f'{p:.2f}' for p in s['runs'])})")
    (OUT_DIR / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(saved, indent=1))
    if not args.no_report:
        saved_path.write_text(json.dumps(saved, indent=1))
        write_report(saved)


if __name__ == "__main__":
    main()
