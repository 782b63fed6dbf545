"""The queue probe's CPU per cycle: Celery's public broadcast against our own publish-and-poll (issue 11, item 8).

    .venv/bin/python bench/queue_probe_broadcast.py [--cycles 30] [--rounds 3] [--interval 1]

Starts a redis-server of its own on a spare port (nothing shared is touched) and
one real worker on it (`celery -A db_django worker -c 1`), then runs the queue
probe in this process once per interval, as a worker's server-status task does
at SERVER_METRICS_INTERVAL=1, in two ways that alternate in blocks of --cycles
(so a change in machine load hits both):

  private  monitor/collection/queue_probe.py as shipped: Mailbox._publish on a kept
           connection and mailbox, replies fetched with non-blocking gets
  public   the same probe with the broadcast done by
           app.control.broadcast("task_counts", reply=True, limit=..., timeout=...,
           connection=<the probe's connection>)

Both stop listening once as many workers answered as last cycle, and listen out
the window every WORKER_DISCOVERY_SECONDS. Per cycle: this process's CPU
(time.process_time, all threads) and wall time, the replies heard; per block:
the worker's CPU (main process and pool child, /proc). Prints medians per way.

Figures: BENCHMARKS.md. monitor/broker.py keeps Mailbox._publish (the reason is
written there).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def spare_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree_cpu(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    import harness  # bench/ is on the path when run as a script

    window = harness.CpuWindow(count_mariadb=False).start()  # the machine is shared: say how busy it was
    work = Path(tempfile.mkdtemp(prefix="queue-probe-bench-"))
    port = spare_port()
    broker = f"redis://127.0.0.1:{port}/0"
    redis_proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=open(work / "redis.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    env = {
        **os.environ,
        "CELERY_BROKER_URL": broker,
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "VAR_DIR": str(work),
    }
    os.environ.update({k: env[k] for k in ("CELERY_BROKER_URL", "DATABASE_URL", "VAR_DIR")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "db_django.settings")
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("celery")), "-A", "db_django", "worker", "-l", "warning", "-c", "1"]
        + ["-n", "bench@probe", "--without-mingle", "--without-gossip"],
        cwd=ROOT,
        env=env,
        stdout=open(work / "worker.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        import django

        django.setup()
        from db_django.celery import app
        from monitor import broker as broker_module
        from monitor.collection.queue_probe import QueueProbe

        private_broadcast = broker_module.broadcast_and_collect

        def public_broadcast(app, conn, command, wait, expected=0, mailbox=None):
            replies = app.control.broadcast(command, reply=True, limit=expected or None, timeout=wait, connection=conn)
            return {name: reply for answer in replies or [] for name, reply in answer.items()}

        ways = {"private": private_broadcast, "public": public_broadcast}
        probe = QueueProbe(app)
        deadline = time.monotonic() + 60
        while probe.collect({}, 1.0).samples[1].value < 1:  # celery.workers_online
            if time.monotonic() > deadline:
                raise SystemExit(f"the worker did not answer; see {work / 'worker.log'}")
            time.sleep(0.5)
        worker_ps = psutil.Process(worker.pid)
        results: dict[str, dict[str, list[float]]] = {
            w: {"cpu": [], "wall": [], "heard": [], "worker": []} for w in ways
        }
        for round_number in range(args.rounds):
            for way, broadcast in ways.items():
                import monitor.collection.queue_probe as probe_module

                probe_module.broadcast_and_collect = broadcast
                probe = QueueProbe(app)
                probe.collect({}, 1.0)  # connection, mailbox, reply queue: not part of a steady cycle
                worker_before = tree_cpu(worker_ps)
                started_block = time.monotonic()
                next_tick = time.monotonic()
                for _ in range(args.cycles):
                    next_tick += args.interval
                    cpu, wall = time.process_time(), time.monotonic()
                    collected = probe.collect({}, 1.0)
                    results[way]["cpu"].append(time.process_time() - cpu)
                    results[way]["wall"].append(time.monotonic() - wall)
                    results[way]["heard"].append(
                        next(s.value for s in collected.samples if s.name == "celery.workers_online")
                    )
                    time.sleep(max(0.0, next_tick - time.monotonic()))
                block = time.monotonic() - started_block
                results[way]["worker"].append(100 * (tree_cpu(worker_ps) - worker_before) / block)
                probe.close()
                print(f"round {round_number + 1} {way}: done", flush=True)
        print(f"\n{args.rounds} rounds x {args.cycles} cycles each way, interval {args.interval:g} s, 1 worker")
        print("way      probe CPU ms/cycle (median, mean)  wall ms/cycle (median, max)  heard 1 worker  worker CPU %")
        for way, r in results.items():
            heard = sum(1 for h in r["heard"] if h == 1) / len(r["heard"])
            print(
                f"{way:8} {statistics.median(r['cpu']) * 1000:8.2f} {statistics.mean(r['cpu']) * 1000:8.2f}"
                f"              {statistics.median(r['wall']) * 1000:8.1f} {max(r['wall']) * 1000:8.1f}"
                f"        {heard:6.0%}        {statistics.median(r['worker']):.2f}"
            )
        print(f"other processes used {window.stop():.0f}% of a core during the run")
    finally:
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
        redis_proc.terminate()
        redis_proc.wait(10)


if __name__ == "__main__":
    main()
