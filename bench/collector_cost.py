"""The Celery worker's CPU share at METRICS_INTERVAL=1 and 10 (target: at most 2% of one core at 1 s).

    .venv/bin/python bench/collector_cost.py [--seconds 90] [--runs 3] [--concurrency 1] [--no-profile]
    .venv/bin/python bench/collector_cost.py --report-only   # rewrite the .md from the saved results

Production layout, on a database and a broker of its own: MariaDB database
`bench_cost_db_django` (dropped, created and migrated here) and Redis database 11
(flushed before every run) as the broker, DJANGO_DEBUG=0, and MONITOR_MYSQL_URLS /
MONITOR_REDIS_URLS left at their defaults (the app's database and the broker), so
every collector runs. Each run starts a real worker
(`celery -A db_django worker -l warning -c 1 -n cost@bench`) and beat, waits for a
warm-up (at least 15 s and two completed cycles), then reads utime+stime from
/proc/<pid>/stat of the worker's main process and its pool children, and of beat,
at the start and end of the window: CPU seconds / wall seconds * 100 = percent of
one core. Cycles are the `memory.used_percent` rows the worker stored for its host
in the window. Intervals alternate (1 s, 10 s, 1 s, ...) so a change in machine
load hits both; the median of the runs is reported.

Then (unless --no-profile) an idle worker (no beat) is measured the same way, and
one collection cycle is profiled in-process against the same database and broker
with that worker answering `task_counts`: CPU per call of collect_host_once(),
collect_servers_once() and the bulk insert, and cProfile on per-thread CPU time
(the broadcast to the workers runs in a thread of its own).

Writes bench/COLLECTOR_COST.md; results (collector_cost.json), profiles and the
worker and beat logs under $BENCH_OUT/collector_cost (default
/tmp/db_django-bench/collector_cost). About 13 minutes with the defaults.
"""

import argparse
import cProfile
import hashlib
import importlib.metadata
import inspect
import json
import os
import platform
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import redis
from harness import connect, log  # shared with the other benchmarks

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # db_django and monitor, for the in-process profile
BIN = Path(sys.executable).parent
CELERY = str(BIN / "celery")
DB_NAME = os.environ.get("BENCH_COST_DB", "bench_cost_db_django")
MYSQL = urlsplit(os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/"))
DATABASE_URL = f"{MYSQL.scheme}://{MYSQL.netloc}/{DB_NAME}"
# A Redis database no test or other benchmark uses; flushed before every run.
BROKER_URL = os.environ.get("BENCH_COST_REDIS_URL", "redis://127.0.0.1:6379/11")
OUT_DIR = Path(os.environ.get("BENCH_OUT", Path(tempfile.gettempdir()) / "db_django-bench")) / "collector_cost"
REPORT = ROOT / "bench" / "COLLECTOR_COST.md"
HOST = "cost-bench"  # MONITOR_HOSTNAME: the rows of these runs, nobody else's
INTERVALS = (1, 10)
TARGET_PERCENT = 2.0  # of one core, at METRICS_INTERVAL=1
GLANCES_PERCENT = 7.0  # the reference point
MIN_WARMUP = 15.0
WARM_CYCLES = 2  # the second cycle is the first with rates: every code path has run
CLK_TCK = os.sysconf("SC_CLK_TCK")
WORKER_COMMAND = ["worker", "-l", "warning", "-c", "1", "-n", "cost@bench"]  # -c: see --concurrency
PROFILE_CYCLES = 20
# Where kombu keeps the bindings of the exchange remote-control replies go to.
REPLY_BINDINGS_KEY = "_kombu.binding.reply.celery.pidbox"


# The code a worker and beat run: a run whose code changed under it (others edit it) says so.
WORKER_SOURCES = (
    "db_django/settings.py",
    "db_django/env.py",
    "db_django/celery.py",
    "db_django/kombu_patches.py",
    "monitor/collection/*.py",
    "monitor/collection/collectors/*.py",
    "monitor/storage/*.py",
    "monitor/broker.py",
    "monitor/deadline.py",
    "monitor/models.py",
)


def source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for pattern in WORKER_SOURCES for p in ROOT.glob(pattern)):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


# --- the database and the broker -----------------------------------------------------------------
def scalar(conn, sql: str, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
    return row[0] if row else None


def app_env(var_dir: Path, interval: int) -> dict[str, str]:
    """Production settings on the bench database and broker; monitored servers left at their defaults."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONITOR_MYSQL_URLS", "MONITOR_REDIS_URLS")}
    env.update(
        DJANGO_SETTINGS_MODULE="db_django.settings",
        DATABASE_URL=DATABASE_URL,
        CELERY_BROKER_URL=BROKER_URL,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-only-secret-key-not-used-anywhere-else-collector-cost-0123456789",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        VAR_DIR=str(var_dir),
        LOG_LEVEL="WARNING",
        MONITOR_HOSTNAME=HOST,
        METRICS_INTERVAL=str(interval),
        PYTHONUNBUFFERED="1",
    )
    return env


def create_database() -> None:
    conn = connect(None)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{DB_NAME}`")
        cur.execute(f"CREATE DATABASE `{DB_NAME}` CHARACTER SET utf8mb4")
    conn.close()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=app_env(OUT_DIR / "var", 10),
        check=True,
    )
    log(f"created and migrated {DATABASE_URL} in {time.perf_counter() - started:.1f} s")


def reset_stores() -> None:
    """Empty tables and broker: every run starts from the same state."""
    conn = connect(DB_NAME)
    with conn.cursor() as cur:
        cur.execute("TRUNCATE TABLE monitor_resource")
        cur.execute("TRUNCATE TABLE monitor_host")
    conn.close()
    client = redis.Redis.from_url(BROKER_URL)
    client.flushdb()
    client.close()


def _naive_utc(at: datetime) -> datetime:
    # Django stores UTC in MySQL DATETIME columns without a zone (USE_TZ).
    return at.astimezone(UTC).replace(tzinfo=None)


def stored(conn, since: datetime, until: datetime | None = None) -> dict:
    """Cycles and rows the worker stored for HOST in [since, until)."""
    until = until or datetime.now(UTC) + timedelta(days=1)
    bounds = [HOST, _naive_utc(since), _naive_utc(until)]
    where = "host = %s AND timestamp >= %s AND timestamp < %s"
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT SUM(name = 'memory.used_percent'), SUM(name = 'celery.broker_up'),"
            f" SUM(name LIKE 'mysql.%%' OR name LIKE 'redis.%%' OR name LIKE 'celery.%%'), COUNT(*),"
            f" MAX(CASE WHEN name = 'memory.used_percent' THEN timestamp END)"
            f" FROM monitor_resource WHERE {where}",
            bounds,
        )
        host_cycles, server_cycles, server_rows, rows, last = cur.fetchone()
    return {
        "host_cycles": int(host_cycles or 0),
        "server_cycles": int(server_cycles or 0),
        "server_rows": int(server_rows or 0),
        "host_rows": int(rows or 0) - int(server_rows or 0),
        "rows": int(rows or 0),
        "last_host_cycle": last.replace(tzinfo=UTC) if last else None,
    }


# --- processes -----------------------------------------------------------------------------------
class Procs:
    """Processes started in their own process group; `stop_all` kills each group (used in finally)."""

    def __init__(self) -> None:
        self.started: list[tuple[subprocess.Popen, object]] = []

    def start(self, args: list[str], env: dict, logfile: Path) -> subprocess.Popen:
        out = open(logfile, "wb")  # closed in stop()
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append((proc, out))
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        # SIGTERM to the main process first: Celery's warm shutdown stops its pool itself
        # (a SIGTERM to the whole group kills the pool under it and logs WorkerLostError).
        # Then SIGKILL to the group, for whatever is left.
        try:
            proc.terminate()
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        for i, (p, out) in enumerate(self.started):
            if p is proc:
                out.close()
                del self.started[i]
                break

    def stop_all(self) -> None:
        for proc, _ in list(reversed(self.started)):
            self.stop(proc)


def _ticks(pid: int) -> int | None:
    """utime + stime + cutime + cstime of one process (all its threads), in clock ticks.

    The children's fields hold the CPU of children this process has reaped, so a
    pool process replaced during the window is still counted, once.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    # After "pid (comm)": state is fields[0]; utime, stime, cutime, cstime are fields 14-17 of stat(5).
    return sum(int(v) for v in fields[11:15])


def tree_ticks(pid: int) -> dict[int, int]:
    """Ticks of a process and each of its descendants, by pid."""
    pids = [pid]
    try:
        pids += [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return {}
    readings = {p: _ticks(p) for p in pids}
    return {p: t for p, t in readings.items() if t is not None}


def cpu_seconds(before: dict[int, int], after: dict[int, int], pids: Callable[[int], bool] = lambda _: True) -> float:
    """CPU spent between two readings by the selected processes (one born in between counts in full)."""
    ticks = sum(after[p] - before.get(p, 0) for p in after if pids(p))
    return ticks / CLK_TCK


def epoll_waits_per_second(pid: int, seconds: float = 3.0) -> float | None:
    """epoll_wait calls per second of the worker's main process (strace -c, after the window).

    An idle event loop sleeps in epoll_wait until its next timer (tens per second);
    hundreds or more mean it is woken at once, again and again: a busy loop.
    None when strace is not installed.
    """
    if not shutil.which("strace"):
        return None
    out = OUT_DIR / f"strace-{pid}.txt"
    subprocess.run(
        ["timeout", "-s", "INT", str(seconds), "strace", "-c", "-f", "-o", str(out), "-p", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    text = out.read_text() if out.exists() else ""
    found = re.search(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?epoll_wait$", text, re.M)
    return int(found.group(1)) / seconds if found else 0.0


def wait_until(condition: Callable[[], object], timeout: float, what: str, logs: list[Path]) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.5)
    tails = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")


def log_problems(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [line for line in lines if re.search(r"(WARNING|ERROR|CRITICAL)/|Traceback", line)]


# --- one run -------------------------------------------------------------------------------------
def window_for(interval: int, seconds: int) -> int:
    """The window: a whole number of intervals, and at least six cycles."""
    cycles = max(6, -(-seconds // interval))
    return cycles * interval


def measure(procs: Procs, interval: int, seconds: int, run: int) -> dict:
    code = source_digest()
    reset_stores()
    work = OUT_DIR / f"run{run}-{interval}s"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = app_env(work / "var", interval)
    worker_log, beat_log = work / "worker.log", work / "beat.log"
    conn = connect(DB_NAME)
    spawned = datetime.now(UTC)
    started = time.monotonic()
    worker = procs.start(worker_args(), env, worker_log)
    beat = procs.start(
        [CELERY, "-A", "db_django", "beat", "-l", "warning", "-s", str(work / "beat-schedule")], env, beat_log
    )
    try:
        window = window_for(interval, seconds)

        def warm() -> bool:
            for proc, name in ((worker, "worker"), (beat, "beat")):
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}: see {work}")
            got = stored(conn, spawned)
            return got["host_cycles"] >= WARM_CYCLES and got["server_cycles"] >= WARM_CYCLES

        wait_until(warm, 60 + 3 * interval, f"{WARM_CYCLES} stored cycles", [worker_log, beat_log])
        time.sleep(max(0.0, MIN_WARMUP - (time.monotonic() - started)))
        if interval > 1:
            # Start half an interval after a cycle, so no cycle straddles either end of the window.
            last = stored(conn, spawned)["last_host_cycle"]
            time.sleep(max(0.0, (last - datetime.now(UTC)).total_seconds() + interval / 2))
        worker_pid, beat_pid = worker.pid, beat.pid
        w0, b0 = tree_ticks(worker_pid), tree_ticks(beat_pid)
        t0, since = time.monotonic(), datetime.now(UTC)
        time.sleep(window)
        w1, b1 = tree_ticks(worker_pid), tree_ticks(beat_pid)
        wall, until = time.monotonic() - t0, datetime.now(UTC)
        pool = [p for p in w1 if p != worker_pid]
        if worker_pid not in w1 or beat_pid not in b1:
            raise RuntimeError(f"worker or beat died during the window: see {work}")
        # Over a whole interval (capped at 10 s): at 10 s a busy spell lasts only part of one.
        epoll = epoll_waits_per_second(worker_pid, min(max(3, interval), 10))
        client = redis.Redis.from_url(BROKER_URL)
        reply_bindings = client.scard(REPLY_BINDINGS_KEY)
        client.close()
    finally:
        procs.stop(beat)
        procs.stop(worker)
    got = stored(conn, since, until)
    conn.close()
    worker_cpu = cpu_seconds(w0, w1)
    main_cpu = cpu_seconds(w0, w1, lambda p: p == worker_pid)
    result = {
        "interval": interval,
        "run": run,
        "window_s": wall,
        "expected_cycles": window // interval,
        "worker_cpu_s": worker_cpu,
        "worker_pct": 100 * worker_cpu / wall,
        "worker_main_pct": 100 * main_cpu / wall,
        "worker_pool_pct": 100 * (worker_cpu - main_cpu) / wall,
        "pool_processes": len(pool),
        "beat_pct": 100 * cpu_seconds(b0, b1) / wall,
        **{k: v for k, v in got.items() if k != "last_host_cycle"},
        "log_problems": log_problems(worker_log) + log_problems(beat_log),
        "epoll_waits_per_s": epoll,
        "reply_bindings": reply_bindings,
        "code": code if code == source_digest() else f"{code}->{source_digest()}",
    }
    cycles = max(result["host_cycles"], 1)
    result["cpu_ms_per_cycle"] = 1000 * worker_cpu / cycles
    result["main_ms_per_cycle"] = 1000 * main_cpu / cycles
    result["pool_ms_per_cycle"] = 1000 * (worker_cpu - main_cpu) / cycles
    log(
        f"  run {run} @ {interval:>2} s: worker {result['worker_pct']:.2f}% of one core"
        f" (main {result['worker_main_pct']:.2f}%, pool {result['worker_pool_pct']:.2f}%),"
        f" beat {result['beat_pct']:.2f}%, {result['host_cycles']} host / {result['server_cycles']} server cycles"
        f" of {result['expected_cycles']} in {wall:.0f} s, {result['rows']} rows,"
        f" {result['cpu_ms_per_cycle']:.0f} ms CPU per cycle"
        + (f", main process {epoll:.0f} epoll_wait/s" if epoll is not None else "")
    )
    for line in result["log_problems"][:5]:
        log(f"    log: {line[:200]}")
    return result


# --- idle worker and in-process profile ----------------------------------------------------------
def worker_args() -> list[str]:
    return [CELERY, "-A", "db_django", *WORKER_COMMAND]


def set_concurrency(processes: int) -> None:
    WORKER_COMMAND[WORKER_COMMAND.index("-c") + 1] = str(processes)


def setup_django() -> None:
    """Django in this process, on the bench database and broker (for the in-process profile)."""
    os.environ.update(app_env(OUT_DIR / "var", 1))
    import django

    django.setup()


def idle_and_profile(procs: Procs, seconds: int) -> dict:
    """An idle worker's CPU (no beat), then one cycle profiled in-process while that worker answers."""
    reset_stores()
    work = OUT_DIR / "profile"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = app_env(work / "var", 1)
    worker_log = work / "worker.log"
    worker = procs.start(worker_args(), env, worker_log)
    from django.conf import settings

    from db_django.celery import app as celery_app
    from monitor.collection import tasks
    from monitor.health import ask_workers
    from monitor.storage.inserts import resource_bulk_create

    try:
        wait_until(
            lambda: ask_workers(celery_app, 2.0)[0] or worker.poll() is not None,
            60,
            "the worker to answer task_counts",
            [worker_log],
        )
        if worker.poll() is not None:
            raise RuntimeError(f"worker exited: see {worker_log}")
        time.sleep(5)
        before, t0 = tree_ticks(worker.pid), time.monotonic()
        time.sleep(seconds)
        after, wall = tree_ticks(worker.pid), time.monotonic() - t0
        idle_pct = 100 * cpu_seconds(before, after) / wall
        idle_epoll = epoll_waits_per_second(worker.pid)
        log(f"  idle worker (no beat, {wall:.0f} s): {idle_pct:.2f}% of one core")

        # The two tasks as the pool process runs them (tracing, marker row, transaction), minus the IPC.
        def run_tasks() -> None:
            for task in (tasks.collect_host_metrics, tasks.collect_server_status):
                result = task.apply()
                if not result.successful():
                    raise RuntimeError(f"{task.name} failed in-process: {result.result!r}")

        run_tasks()  # warm: imports, connections, and the first readings the rates need
        run_tasks()

        from monitor.collection.collectors.mysql import collect_mysql
        from monitor.collection.collectors.redis import collect_redis

        timeout = settings.MONITOR_COLLECT_TIMEOUT
        # collect_servers_once() = MySQL + Redis + the task queue; the queue part is the difference.
        steps: dict[str, Callable[[], list]] = {
            "host": tasks.collect_host_once,
            "servers": tasks.collect_servers_once,
            "mysql": lambda: [s for u in settings.MONITOR_MYSQL_URLS for s in collect_mysql(u, None, timeout).samples],
            "redis": lambda: [s for u in settings.MONITOR_REDIS_URLS for s in collect_redis(u, None, timeout).samples],
        }
        marker = "cycle_id" in inspect.signature(resource_bulk_create).parameters  # as the tasks call it

        def store(samples: list) -> int:
            extra = {"cycle_id": str(uuid.uuid4())} if marker else {}
            return resource_bulk_create(samples, host=settings.MONITOR_HOSTNAME, **extra)

        parts: dict[str, list[float]] = {name: [] for name in [*steps, "queue", "insert", "tasks"]}
        walls: dict[str, list[float]] = {name: [] for name in parts}
        for step in steps.values():  # warm the connections
            step()
        rows = 0
        w0 = tree_ticks(worker.pid)
        for _ in range(PROFILE_CYCLES):
            samples = {}
            for name, step in [*steps.items(), ("insert", None), ("tasks", run_tasks)]:
                c0, t0 = time.process_time(), time.perf_counter()
                if name == "insert":
                    rows += store(samples["host"]) + store(samples["servers"])
                else:
                    samples[name] = step()
                walls[name].append(time.perf_counter() - t0)
                _join_helper_threads()  # a broadcast thread's CPU belongs to its step
                parts[name].append(time.process_time() - c0)
            for series in (parts, walls):
                series["queue"].append(series["servers"][-1] - series["mysql"][-1] - series["redis"][-1])
        # Two broadcasts per cycle here: collect_servers_once() and the server task.
        answer_s = cpu_seconds(w0, tree_ticks(worker.pid)) / PROFILE_CYCLES / 2
        cpu_ms = {k: 1000 * statistics.median(v) for k, v in parts.items()}
        wall_ms = {k: 1000 * statistics.median(v) for k, v in walls.items()}
        log(
            "  one cycle in-process, median CPU ms: "
            + ", ".join(f"{k} {v:.1f}" for k, v in cpu_ms.items())
            + f"; rows per cycle {rows / PROFILE_CYCLES:.0f}"
        )

        stats_text = profile_cycles(run_tasks, PROFILE_CYCLES)
    finally:
        procs.stop(worker)
    return {
        "idle_pct": idle_pct,
        "idle_window_s": wall,
        "cycle_cpu_ms": cpu_ms,
        "cycle_wall_ms": wall_ms,
        "idle_epoll_waits_per_s": idle_epoll,
        "worker_answer_ms": 1000 * answer_s,
        "rows_per_cycle": rows / PROFILE_CYCLES,
        **stats_text,
    }


def _join_helper_threads() -> None:
    # ask_workers leaves its broadcast thread closing the connection; let it finish so its CPU is counted.
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.name == "status-broadcast":
            thread.join(5)


def profile_cycles(cycle: Callable[[], object], cycles: int) -> dict[str, str]:
    """cProfile of `cycles` cycles on per-thread CPU time, helper threads included."""
    profiles: list[cProfile.Profile] = []
    original_run = threading.Thread.run

    def profiled_run(self) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.runcall(original_run, self)

    main = cProfile.Profile(time.thread_time)
    threading.Thread.run = profiled_run
    try:
        for _ in range(cycles):
            main.runcall(cycle)
            _join_helper_threads()
    finally:
        threading.Thread.run = original_run
    main.dump_stats(OUT_DIR / "cycle.prof")
    stats = pstats.Stats(main)
    for profile in profiles:
        stats.add(profile)
    stats.dump_stats(OUT_DIR / "cycle-all-threads.prof")
    return {
        "profile_total_ms": 1000 * stats.total_tt / cycles,
        "top_tottime": _top(stats, "tottime", cycles),
        "top_cumulative": _top(stats, "cumulative", cycles),
    }


def _top(stats: pstats.Stats, key: str, cycles: int, limit: int = 15) -> list[tuple[float, float, int, str]]:
    """(own ms, cumulative ms, calls) per cycle for the top functions."""
    rows = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():
        where = _short_path(filename)
        label = f"{where}:{line}({name})" if line else name
        rows.append((1000 * tottime / cycles, 1000 * cumtime / cycles, calls // cycles, label))
    index = 0 if key == "tottime" else 1
    rows.sort(key=lambda r: r[index], reverse=True)
    return rows[:limit]


def _short_path(filename: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename.rsplit("/lib/", 1)[-1]


# --- machine and report --------------------------------------------------------------------------
def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text()
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    conn = connect(None)
    client = redis.Redis.from_url(BROKER_URL)
    info = {
        "nproc": os.cpu_count(),
        "cpu": model.group(1).strip() if model else platform.machine(),
        "ram_gib": round(int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mariadb": scalar(conn, "SELECT VERSION()"),
        "redis_server": client.info("server")["redis_version"],
        "clk_tck": CLK_TCK,
    }
    conn.close()
    client.close()
    for package in ("Django", "celery", "kombu", "redis", "mysqlclient", "psutil"):
        info[package] = importlib.metadata.version(package)
    return info


def summarize(results: list[dict]) -> dict[int, dict]:
    summary = {}
    for interval in INTERVALS:
        runs = [r for r in results if r["interval"] == interval]
        med = {
            key: statistics.median(r[key] for r in runs)
            for key in (
                "worker_pct",
                "worker_main_pct",
                "worker_pool_pct",
                "beat_pct",
                "host_cycles",
                "server_cycles",
                "expected_cycles",
                "host_rows",
                "server_rows",
                "cpu_ms_per_cycle",
                "main_ms_per_cycle",
                "pool_ms_per_cycle",
                "window_s",
            )
        }
        epolls = [r["epoll_waits_per_s"] for r in runs if r["epoll_waits_per_s"] is not None]
        med["epoll_waits_per_s"] = statistics.median(epolls) if epolls else None
        med["host_rows_per_cycle"] = statistics.median(r["host_rows"] / max(r["host_cycles"], 1) for r in runs)
        med["server_rows_per_cycle"] = statistics.median(r["server_rows"] / max(r["server_cycles"], 1) for r in runs)
        med["runs"] = runs
        summary[interval] = med
    return summary


def print_table(summary: dict[int, dict]) -> None:
    log("\ninterval | worker % of one core (main + pool) | beat % | cycles host/server of expected | rows/cycle")
    for interval, s in summary.items():
        log(
            f"{interval:>6} s | {s['worker_pct']:6.2f} ({s['worker_main_pct']:.2f} + {s['worker_pool_pct']:.2f})"
            f"          | {s['beat_pct']:5.2f}  | {s['host_cycles']:.0f}/{s['server_cycles']:.0f} of"
            f" {s['expected_cycles']:.0f}"
            f"                 | {s['host_rows_per_cycle']:.0f} + {s['server_rows_per_cycle']:.0f}"
        )


def write_report(command: str, info: dict, summary: dict[int, dict], profile: dict | None, minutes: float) -> None:
    one = summary[1]
    met = one["worker_pct"] <= TARGET_PERCENT
    lines = [
        "# Collector cost: the worker's CPU share at METRICS_INTERVAL=1 and 10",
        "",
        f"Issue: METRICS_INTERVAL=1 must be usable, at most {TARGET_PERCENT:g}% of one core at 1 s"
        f" (Glances measured ~{GLANCES_PERCENT:g}% of one CPU).",
        "",
        "Command (generated by it, with the figures of its last run):",
        "",
        "```",
        command,
        "```",
        "",
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['ram_gib']} GiB RAM, Linux {info['kernel']},"
        f" Python {info['python']}, MariaDB {info['mariadb']}, Redis {info['redis_server']};"
        f" Django {info['Django']}, Celery {info['celery']}, kombu {info['kombu']}, redis-py {info['redis']},"
        f" mysqlclient {info['mysqlclient']}, psutil {info['psutil']}. Total time {minutes:.1f} min.",
        "",
        "Setup: production settings (DJANGO_DEBUG=0) on MariaDB database `bench_cost_db_django` (fresh, migrated)"
        f" and Redis `{BROKER_URL}` as the broker (flushed before each run); MONITOR_MYSQL_URLS and"
        " MONITOR_REDIS_URLS at their defaults, so each cycle collects the host (psutil), MariaDB, Redis and"
        f" the task queue. `celery -A db_django {' '.join(WORKER_COMMAND)}` and `celery -A db_django beat`"
        f" with METRICS_INTERVAL set; warm-up of at least {MIN_WARMUP:g} s and {WARM_CYCLES} stored cycles;"
        " then utime+stime of the worker's main process and its pool process (and of beat) from"
        " /proc/<pid>/stat at both ends of the window. Percent = CPU seconds / wall seconds x 100, of one core."
        " Cycles = `memory.used_percent` rows stored for the host in the window (host task) and"
        " `celery.broker_up` rows (server task). Intervals alternate, medians of"
        f" {len(one['runs'])} runs.",
        "",
        "| METRICS_INTERVAL | window | worker, % of one core | of which main process | of which pool process"
        " | beat, % | cycles stored (host / servers) of expected | rows per cycle (host + servers)"
        " | worker CPU per host cycle |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for interval, s in summary.items():
        lines.append(
            f"| {interval} s | {s['window_s']:.0f} s | **{s['worker_pct']:.2f}** | {s['worker_main_pct']:.2f}"
            f" | {s['worker_pool_pct']:.2f} | {s['beat_pct']:.2f} | {s['host_cycles']:.0f} / {s['server_cycles']:.0f}"
            f" of {s['expected_cycles']:.0f} | {s['host_rows_per_cycle']:.0f} + {s['server_rows_per_cycle']:.0f}"
            f" | {s['cpu_ms_per_cycle']:.0f} ms |"
        )
    lines += [
        "",
        "Every run (worker % (main process %) / beat % / host cycles / server cycles):",
        "",
    ]
    for interval, s in summary.items():
        per_run = "; ".join(
            f"{r['worker_pct']:.2f} ({r['worker_main_pct']:.2f}) / {r['beat_pct']:.2f} / {r['host_cycles']}"
            f" / {r['server_cycles']}"
            for r in s["runs"]
        )
        lines.append(f"- {interval} s: {per_run}")
    problems = sorted({line.strip()[:160] for s in summary.values() for r in s["runs"] for line in r["log_problems"]})
    if problems:
        lines += ["", "Worker and beat logged (distinct lines):", ""] + [f"- `{p}`" for p in problems[:10]]
    codes = [r["code"] for s in summary.values() for r in s["runs"]]
    if len(set(codes)) == 1 and "->" not in codes[0]:
        lines += [
            "",
            f"App code measured: digest `{codes[0]}` of the code the worker runs (WORKER_SOURCES in the script;"
            " the same in every run).",
        ]
    else:
        lines += [
            "",
            f"**The app's code changed during the runs** (digests of WORKER_SOURCES: {', '.join(codes)}):"
            " the runs measured different code; rerun once it is stable.",
        ]
    # Server status runs every SERVER_METRICS_INTERVAL seconds when that is set (as when measured).
    server_every = max(1, int(os.environ.get("SERVER_METRICS_INTERVAL") or 1))
    expected_server = one["expected_cycles"] // server_every
    short = one["host_cycles"] < one["expected_cycles"] or one["server_cycles"] < expected_server
    lines += [
        "",
        f"**Target at 1 s ({TARGET_PERCENT:g}% of one core): {'met' if met else 'MISSED'}**"
        f" ({one['worker_pct']:.2f}% for the worker, {one['worker_pct'] + one['beat_pct']:.2f}% with beat;"
        f" {one['worker_pct'] / TARGET_PERCENT:.2f} of the budget)."
        + (
            f" Note: at 1 s the window holds fewer stored cycles than beat sent in it ({one['host_cycles']:.0f} host"
            f" of {one['expected_cycles']:.0f}, {one['server_cycles']:.0f} server of {expected_server:.0f}): a cycle"
            " stored after the window's end, or one that expired in the queue, is not counted, so the figure"
            " covers slightly less work than the full schedule."
            if short
            else ""
        ),
    ]
    if profile:
        lines += profile_section(profile, summary)
    REPORT.write_text("\n".join(lines) + "\n")
    log(f"-> {REPORT}")


def profile_section(profile: dict, summary: dict[int, dict]) -> list[str]:
    one, ten = summary[1], summary[10]
    cpu, wall = profile["cycle_cpu_ms"], profile["cycle_wall_ms"]
    task_ms = sum(cpu[k] for k in ("host", "servers", "insert"))
    task_wall = sum(wall[k] for k in ("host", "servers", "insert"))
    idle_ms_per_s = 10 * profile["idle_pct"]  # percent of one core -> ms per second
    lines = [
        "",
        "## Where the time goes",
        "",
        "Worker CPU per stored host cycle, split by process (medians):",
        "",
        "| METRICS_INTERVAL | main process | pool process (the task bodies) | main-process epoll_wait calls/s |",
        "|---|---|---|---|",
    ]
    for interval, s in summary.items():
        epoll = "n/a" if s["epoll_waits_per_s"] is None else f"{s['epoll_waits_per_s']:.0f}"
        lines.append(f"| {interval} s | {s['main_ms_per_cycle']:.1f} ms | {s['pool_ms_per_cycle']:.1f} ms | {epoll} |")
    idle_epoll = profile["idle_epoll_waits_per_s"]
    lines += [
        f"| idle (no beat, {profile['idle_window_s']:.0f} s) | {idle_ms_per_s:.1f} ms per second"
        f" ({profile['idle_pct']:.2f}% of one core) | - | {'n/a' if idle_epoll is None else f'{idle_epoll:.0f}'} |",
        "",
        "epoll_wait calls: `strace -c -f` on the worker's main process after each window, for one interval"
        " (at least 3 s, at most 10 s). An event loop"
        " with nothing to do sleeps in epoll_wait until its next timer; a rate in the hundreds or thousands"
        " means it is woken at once, again and again, without doing anything: a busy loop.",
    ]
    mains = {interval: [r["worker_main_pct"] for r in sm["runs"]] for interval, sm in summary.items()}
    saturated = (
        one["epoll_waits_per_s"] is not None
        and idle_epoll is not None
        and one["epoll_waits_per_s"] > max(200, 10 * idle_epoll)
    )
    uneven = max(mains[1]) > max(1.0, 2 * min(mains[1]))
    lines += [
        "",
        "Main process, % of one core, run by run: "
        + "; ".join(f"{i} s: {', '.join(f'{m:.2f}' for m in ms)}" for i, ms in mains.items())
        + f"; idle {profile['idle_pct']:.2f}.",
    ]
    if saturated or uneven:
        when = (
            f"At 1 s it does so all the time ({one['epoll_waits_per_s']:.0f} epoll_wait/s against {idle_epoll:.0f}/s"
            f" idle): one cycle's task bodies take {task_wall:.0f} ms of wall time (table below), more than the"
            " interval, so a message is nearly always waiting; cycles that wait longer than `expires`"
            " (3 intervals) are dropped."
            if saturated
            else "It happens for part of every cycle in some runs and not in others: beat sends both tasks at the"
            " same moment, and in runs where the host broadcast reaches the worker second it waits, unread, for as"
            " long as the server task holds the pool process (a message waiting on the ordinary queue causes no"
            " such loop: BRPOP is paused). The order apparently holds for a whole run: runs are either near the"
            " idle level or well above it."
        )
        lines += [
            "",
            "**The main process busy-loops while a collection message waits for the pool process.** With"
            " `-c 1`, acks_late and a prefetch multiplier of 1 the prefetch limit is reached as soon as one task"
            " runs; kombu's Redis transport then leaves the pub/sub socket of the broadcast queue (host collection"
            " is routed to one) unread (`MultiChannelPoller.on_readable` in kombu/transport/redis.py handles a"
            " readable fd only if `qos.can_consume()`; unlike BRPOP, pub/sub is not paused), and level-triggered"
            " epoll reports the same socket readable again at once, about a thousand times a second. " + when,
        ]
    lines += [
        "",
        f"One cycle run in-process (the work of `collect_host_once()`, `collect_servers_once()` and the two"
        f" `resource_bulk_create()` calls of the tasks) against the same database and broker, with an idle"
        f" worker answering `task_counts`; medians of {PROFILE_CYCLES} cycles (CPU: time.process_time, all"
        " threads):",
        "",
        "| part | CPU ms per cycle | wall ms per cycle |",
        "|---|---|---|",
        f"| collect_host_once() (psutil) | {cpu['host']:.1f} | {wall['host']:.1f} |",
        f"| collect_servers_once() | {cpu['servers']:.1f} | {wall['servers']:.1f} |",
        f"| - of which collect_mysql() | {cpu['mysql']:.1f} | {wall['mysql']:.1f} |",
        f"| - of which collect_redis() (INFO) | {cpu['redis']:.1f} | {wall['redis']:.1f} |",
        f"| - of which the task queue (task_counts broadcast, replies, queue length; the rest)"
        f" | {cpu['queue']:.1f} | {wall['queue']:.1f} |",
        f"| resource_bulk_create() x 2 (cycle marker, one executemany INSERT, host upsert) | {cpu['insert']:.1f}"
        f" | {wall['insert']:.1f} |",
        f"| **host + servers + insert** | **{task_ms:.1f}** | **{task_wall:.0f}** |",
        f"| both tasks run by `Task.apply()` (the above plus Celery's tracing: what the pool process runs)"
        f" | {cpu['tasks']:.1f} | {wall['tasks']:.1f} |",
        f"| the worker's main process answering one `task_counts` | {profile['worker_answer_ms']:.1f} | |",
        "",
        f"At 10 s the pool process used {ten['pool_ms_per_cycle']:.0f} ms per cycle (task bodies measured"
        f" in-process: {cpu['tasks']:.0f} ms) and the main process {ten['main_ms_per_cycle']:.0f} ms, against"
        f" {idle_ms_per_s * 10:.0f} ms for an idle worker over 10 s (heartbeats, gossip, broker polling).",
        "",
        f"Remote-control reply bindings left in Redis (`{REPLY_BINDINGS_KEY}`) at the end of the runs:"
        f" {', '.join(str(r['reply_bindings']) for s in summary.values() for r in s['runs'])}. The queue"
        " collector keeps one reply queue for as long as its broker connection lives, one member of this set per"
        " worker process; the web's one-off broadcasts delete theirs. A set that grew by one member per cycle"
        " (86,400 a day at 1 s; kombu sweeps it only after an hour without declarations) would make every reply"
        " a worker sends read it whole (SMEMBERS, to route it), a cost that grows with uptime and does not show"
        " in a window of minutes.",
        "",
        f"cProfile of {PROFILE_CYCLES} cycles on per-thread CPU time (time.thread_time), the broadcast thread"
        f" included; per cycle ({profile['profile_total_ms']:.1f} ms of CPU under the profiler, which inflates"
        " small calls several times). Top functions by own time:",
        "",
        "| own ms | cumulative ms | calls | function |",
        "|---|---|---|---|",
    ]
    lines += [f"| {own:.2f} | {cum:.2f} | {calls} | `{name}` |" for own, cum, calls, name in profile["top_tottime"]]
    lines += [
        "",
        "By cumulative time:",
        "",
        "| own ms | cumulative ms | calls | function |",
        "|---|---|---|---|",
    ]
    lines += [f"| {own:.2f} | {cum:.2f} | {calls} | `{name}` |" for own, cum, calls, name in profile["top_cumulative"]]
    return lines


# --- main ----------------------------------------------------------------------------------------
def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=90, help="measurement window per run (default 90)")
    parser.add_argument("--runs", type=int, default=3, help="runs per interval; the median is reported (default 3)")
    parser.add_argument("--idle-seconds", type=int, default=30, help="window of the idle-worker reading")
    parser.add_argument("--concurrency", type=int, default=1, help="worker pool processes (default 1)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md from the last run's saved results")
    parser.add_argument("--no-profile", action="store_true", help="skip the idle worker and the in-process profile")
    args = parser.parse_args()
    saved_path = OUT_DIR / "collector_cost.json"
    if args.report_only:
        saved = json.loads(saved_path.read_text())
        WORKER_COMMAND[:] = saved["worker_command"]
        write_report(saved["command"], saved["info"], summarize(saved["results"]), saved["profile"], saved["minutes"])
        return
    command = " ".join([".venv/bin/python bench/collector_cost.py", *sys.argv[1:]])  # as invoked, for the report
    set_concurrency(args.concurrency)
    signal.signal(signal.SIGTERM, _terminate)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    info = machine()
    log("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    create_database()
    setup_django()
    procs = Procs()
    results = []
    profile = None
    try:
        log(f"== worker and beat CPU, {args.runs} runs per interval, window {args.seconds} s")
        for run in range(1, args.runs + 1):
            for interval in INTERVALS:
                results.append(measure(procs, interval, args.seconds, run))
        summary = summarize(results)
        print_table(summary)
        if not args.no_profile:
            log("== idle worker and one cycle profiled in-process")
            profile = idle_and_profile(procs, args.idle_seconds)
    finally:
        procs.stop_all()
    minutes = (time.perf_counter() - started) / 60
    saved = {"command": command, "info": info, "results": results, "profile": profile, "minutes": minutes}
    saved_path.write_text(json.dumps({**saved, "worker_command": WORKER_COMMAND}, indent=1, default=str))
    write_report(command, info, summary, profile, minutes)
    one = summary[1]
    verdict = "met" if one["worker_pct"] <= TARGET_PERCENT else "MISSED"
    log(f"target at 1 s: worker {one['worker_pct']:.2f}% of one core <= {TARGET_PERCENT:g}%: {verdict}")
    log(f"total time: {minutes:.1f} min")


if __name__ == "__main__":
    main()
