"""Prometheus remote write into MySQL: samples/s through /api/v1/write and in-process, vs raw executemany.

Self-contained (no bench/harness.py). The stream is what a remote-writing
Prometheus sends: SERIES node_exporter-like series (5 labels each), one sample
per series per scrape (15 s apart), cut into WriteRequests of 2,000 samples
(Prometheus' max_samples_per_send), snappy-compressed protobuf. Sides, one
after the other in the same run, each storing new samples of the same series:

    raw    mysqlclient executemany of (series_id, ts, value) into a copy of
           monitor_sample (same schema: compressed, partitioned), one
           transaction per 2,000 rows: the yardstick the issue names
    rows   the same rows as one multi-row INSERT per transaction written out
           as storage/bulk.py writes them, and as LOAD DATA LOCAL INFILE: what
           the database takes for the sample rows alone, with next to no
           client work (the ceiling for any writer of one row per sample);
           then the multi-row INSERT into copies altered to DYNAMIC
           (uncompressed) and PAGE_COMPRESSED, to show what
           ROW_FORMAT=COMPRESSED costs the server per row
    store  in this process: snappy + protobuf decode, Points, store() (series
           ids, samples, rollups + latest values, hosts), per request
    http   gunicorn (--workers W) on the same database, CLIENTS concurrent
           senders (Prometheus' shards) POSTing the bodies
    fold   the fold-rollups task's work for the http side's samples (their
           minute and hour rollups, storage/folding.py), timed after it;
           "sustained" counts it as if the senders had waited for it

Besides wall-clock samples/s, each side's CPU time is counted (this process,
gunicorn's workers, and the MariaDB server when it is our own): on a shared
machine, samples per CPU-second say what the code costs whatever the others run.

    .venv/bin/python bench/remote_write.py --private-mariadb [--series 10000] [--scrapes 5] [--workers 2] [--clients 2]
    .venv/bin/python bench/remote_write.py            # on bench_remote_write (created and migrated if missing)

--rollups-dynamic (with --private-mariadb) stores rollups uncompressed: on this
MariaDB the compressed rollup table's hot rows (latest values, the current
minute and hour) cost more server CPU with every round (each update fills the
page's modification log and recompresses it); uncompressed they stay flat.

--private-mariadb installs and migrates a MariaDB of its own in a temporary
folder on a spare port (the shared server's defaults: 128 MB buffer pool),
and removes it at the end. Otherwise the run uses DATABASE_URL, by default
bench_remote_write on the shared server (created and migrated when missing);
series the run creates stay there (hosts bench-rw-*). Other processes' CPU
during the run (bench/harness.py CpuWindow) is printed at the end.
"""

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "db_django.settings")

BATCH = 2000
INTERVAL_MS = 15_000
TIMEOUTS = "read_timeout=300&write_timeout=300"
DEFAULT_DB = "bench_remote_write"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def private_mariadb() -> Iterator[tuple[str, psutil.Process]]:
    """(DATABASE_URL, server process) of a freshly installed and migrated MariaDB on a spare port."""
    folder = Path(tempfile.mkdtemp(prefix="bench-mariadb-"))
    datadir, port = folder / "data", free_port()
    user = ["--user=root"] if os.geteuid() == 0 else []
    install = shutil.which("mariadb-install-db") or "mysql_install_db"
    subprocess.run(
        [install, "--no-defaults", *user, f"--datadir={datadir}", "--auth-root-authentication-method=normal"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    server = subprocess.Popen(
        [
            shutil.which("mariadbd", path="/usr/sbin:/usr/bin") or "mysqld",
            "--no-defaults",
            *user,
            f"--datadir={datadir}",
            f"--port={port}",
            f"--socket={folder / 'sock'}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--skip-log-bin",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "mariadb.log", "wb"),
        start_new_session=True,
    )
    try:
        import MySQLdb

        deadline = time.monotonic() + 60
        while True:
            try:
                MySQLdb.connect(host="127.0.0.1", port=port, user="root").cursor().execute(
                    "CREATE DATABASE bench CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
                break
            except MySQLdb.Error:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        url = f"mysql://root@127.0.0.1:{port}/bench?{TIMEOUTS}"
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url},
            check=True,
            timeout=900,
        )
        yield url, psutil.Process(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


class Cpu:
    """CPU seconds used by this process and given processes (with their children) between start() and stop()."""

    def __init__(self, **others: psutil.Process | None):
        self.parties = {"client": psutil.Process(), **{k: v for k, v in others.items() if v is not None}}

    def _now(self) -> dict[str, float]:
        used = {}
        for name, proc in self.parties.items():
            total = 0.0
            for one in [proc, *(proc.children(recursive=True) if name != "client" else [])]:
                try:
                    total += sum(one.cpu_times()[:2])
                except psutil.NoSuchProcess:
                    pass
            used[name] = total
        return used

    def start(self) -> "Cpu":
        self.begun = self._now()
        return self

    def stop(self) -> dict[str, float]:
        now = self._now()
        return {name: now[name] - self.begun[name] for name in now}


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
    import cramjam

    from monitor.ingest import prompb

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
    from monitor.ingest import remote_write
    from monitor.models import Sample

    started = time.perf_counter()
    for body in stream:
        points, _ = remote_write.points(remote_write.decode(body, 64 * 1024 * 1024))
        Sample.objects.store(points)
    return time.perf_counter() - started


RAW_INSERT = "INSERT INTO bench_raw_sample (series_id, ts, value) VALUES "
TSV_ROW = "%d\t%d\t%r\n"  # LOAD DATA's default field and line terminators
# monitor_sample is ROW_FORMAT=COMPRESSED (migration 0009); these copies show what that costs the server.
UNCOMPRESSED = "ROW_FORMAT=DYNAMIC KEY_BLOCK_SIZE=0"
PAGE_COMPRESSED = f"{UNCOMPRESSED} PAGE_COMPRESSED=1"  # MariaDB's page compression (also bench/row_format.py)


def raw_side(batches: list[list[tuple]], how: str = "executemany", table_options: str = "") -> float:
    """Each batch into a copy of monitor_sample, one commit each, by `how`; seconds.

    executemany: mysqlclient's (it quotes every value); insert: one multi-row INSERT
    written out with storage/bulk.py's row format; load: LOAD DATA LOCAL INFILE of a
    tab-separated file in memory (/dev/shm where there is one). `table_options` alter
    the copy first (another row format, to see what monitor_sample's compression costs).
    """
    import MySQLdb
    from django.db import connection

    from monitor.storage.inserts import SAMPLE_FORMAT

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_sample")
        cursor.execute("CREATE TABLE bench_raw_sample LIKE monitor_sample")
        if table_options:
            cursor.execute(f"ALTER TABLE bench_raw_sample {table_options}")
    params = connection.get_connection_params()
    raw = MySQLdb.connect(**params, local_infile=1)  # no Django in the measured loop
    spool = Path("/dev/shm" if Path("/dev/shm").is_dir() else tempfile.gettempdir()) / f"bench-rw-{os.getpid()}.tsv"
    load = f"LOAD DATA LOCAL INFILE '{spool}' INTO TABLE bench_raw_sample (series_id, ts, value)"
    started = time.perf_counter()
    with raw.cursor() as cursor:
        for batch in batches:
            if how == "executemany":
                cursor.executemany(RAW_INSERT + "(%s, %s, %s)", batch)
            elif how == "insert":
                cursor.execute(RAW_INSERT + ",".join([SAMPLE_FORMAT % row for row in batch]))
            else:
                spool.write_text("".join([TSV_ROW % row for row in batch]))
                cursor.execute(load)
            raw.commit()
    seconds = time.perf_counter() - started
    raw.close()
    spool.unlink(missing_ok=True)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_raw_sample")
    return seconds


@contextmanager
def gunicorn(workers: int) -> Iterator[tuple[int, psutil.Process]]:
    port = free_port()
    env = {**os.environ, "DJANGO_DEBUG": "1", "API_REQUIRE_AUTH": "0", "MONITOR_MYSQL_URLS": ""}
    log = open(Path(tempfile.gettempdir()) / "bench-ingest-gunicorn.log", "wb")
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
                break  # 503 (no worker): the app answers
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield port, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def http_side(port: int, stream: list[bytes], clients: int, path: str, headers: dict[str, str]) -> float:
    """Seconds to POST every body with `clients` senders."""

    def post(body: bytes) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=300) as answer:
            assert answer.status == 204, answer.status

    queue = list(reversed(stream))
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
    return time.perf_counter() - started


def report(name: str, samples: int, seconds: float, cpu: dict[str, float]) -> None:
    total = sum(cpu.values())
    split = ", ".join(f"{party} {used:.1f}" for party, used in cpu.items())
    print(
        f"{name:<44} {samples:>7} samples in {seconds:6.2f} s = {samples / seconds:>9,.0f} samples/s wall,"
        f" {samples / total:>9,.0f} per CPU-second (CPU s: {split})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--private-mariadb", action="store_true")
    parser.add_argument(
        "--rollups-dynamic",
        action="store_true",
        help="first ALTER the private database's monitor_rollup to ROW_FORMAT=DYNAMIC (uncompressed), to compare",
    )
    args = parser.parse_args()
    if args.rollups_dynamic and not args.private_mariadb:
        parser.error("--rollups-dynamic changes the schema: only with --private-mariadb")
    with database(args.private_mariadb) as server:
        others(measure, args, server)


def others(run, *args) -> None:
    """run(*args), then print how much CPU other processes (not MariaDB) took meanwhile: the machine is shared."""
    import harness

    window = harness.CpuWindow(count_mariadb=False).start()
    run(*args)
    print(f"other processes (MariaDB not counted) used {window.stop():.0f}% of a core during the run")


@contextmanager
def database(private: bool) -> Iterator[psutil.Process | None]:
    """Django set up on DATABASE_URL or a private MariaDB; yields that server's process when it is ours."""
    import django

    if private:
        with private_mariadb() as (url, server):
            os.environ["DATABASE_URL"] = url
            django.setup()
            yield server
        return
    if "DATABASE_URL" not in os.environ:
        import harness

        if not harness.database_exists(DEFAULT_DB):
            harness.migrate(DEFAULT_DB)
        os.environ["DATABASE_URL"] = f"{harness.database_url(DEFAULT_DB)}?{TIMEOUTS}"
    django.setup()
    yield None


def set_fold_watermark(below_us: int) -> None:
    """The fold watermark where a running installation has it: at the minute of `below_us`, below every
    sample to come, so that writes fold only their latest values and leave the tiers to the folder."""
    from django.db import connection

    from monitor.storage.folding import MINUTE_US

    mark = below_us // MINUTE_US * MINUTE_US
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO monitor_foldwatermark (id, until_us) VALUES (1, %s) ON DUPLICATE KEY UPDATE until_us = %s",
            [mark, mark],
        )


def measure(args, server: psutil.Process | None) -> None:
    from django.db import connection

    assert connection.vendor == "mysql", "DATABASE_URL must point at MySQL/MariaDB"
    if args.rollups_dynamic:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE monitor_rollup ROW_FORMAT=DYNAMIC KEY_BLOCK_SIZE=0")
    # A time base no earlier run used: each side writes new instants (no repeats, no conflicts).
    t0 = (int(time.time()) - 3 * 3600) * 1000 + random.randrange(1000)
    where = "a private MariaDB" if server else connection.settings_dict["NAME"]
    if args.rollups_dynamic:
        where += " (monitor_rollup uncompressed)"
    print(f"{args.series} series x {args.scrapes} scrapes per side, {BATCH} samples per WriteRequest, on {where}")
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores)")
    from monitor.storage.folding import fold_pending

    set_fold_watermark(t0 * 1000)
    store_side(bodies(args.series, 0, t0))  # creates the series: the sides find them in the catalog
    scrapes = range(1, args.scrapes + 1)
    stream = [body for k in scrapes for body in bodies(args.series, k, t0)]
    n = args.series * args.scrapes
    rows = [
        [(i + 1, (t0 + k * INTERVAL_MS) * 1000, float(i)) for i in range(start, min(args.series, start + BATCH))]
        for k in scrapes
        for start in range(0, args.series, BATCH)
    ]
    cpu = Cpu(mariadb=server).start()
    report("raw executemany (sample rows only)", n, raw_side(rows), cpu.stop())
    for how, options, name in (
        ("insert", "", "raw multi-row INSERT (sample rows only)"),
        ("load", "", "raw LOAD DATA (sample rows only)"),
        ("insert", UNCOMPRESSED, "raw multi-row INSERT, table DYNAMIC"),
        ("insert", PAGE_COMPRESSED, "raw multi-row INSERT, table PAGE_COMPRESSED"),
    ):
        cpu = Cpu(mariadb=server).start()
        report(name, n, raw_side(rows, how, options), cpu.stop())
    cpu = Cpu(mariadb=server).start()
    report("decode + store() in process", n, store_side(stream), cpu.stop())
    # Warm-up: several scrapes, so that every worker has met every series (its catalog cache), as in steady state.
    warm_scrapes = 3 * args.workers
    first = args.scrapes + 1
    later = [body for k in range(first, first + warm_scrapes + args.scrapes) for body in bodies(args.series, k, t0)]
    with gunicorn(args.workers) as (port, web):
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}
        warm = warm_scrapes * len(stream) // args.scrapes
        http_side(port, later[:warm], args.clients, "/api/v1/write", headers)

        def fold_before(scrape: int):
            """The fold-rollups task as it runs when scrape number `scrape` is due (the samples' own clock)."""
            from django.conf import settings

            return fold_pending(now_us=(t0 + scrape * INTERVAL_MS) * 1000 + settings.ROLLUP_FOLD_DELAY * 1_000_000)

        fold_before(first + warm_scrapes)  # everything before the measured scrapes
        cpu = Cpu(mariadb=server, web=web).start()
        seconds = http_side(port, later[warm:], args.clients, "/api/v1/write", headers)
        used = cpu.stop()
        report(f"POST /api/v1/write (-w {args.workers}, {args.clients} senders)", n, seconds, used)
        cpu = Cpu(mariadb=server, web=web).start()
        fold = fold_before(first + warm_scrapes + args.scrapes + 4)  # a minute past the last measured scrape
        fold_used = cpu.stop()
        assert fold.samples >= n, fold
        report("fold of those samples (fold-rollups task)", fold.samples, fold.seconds, fold_used)
        fold_seconds = fold.seconds * n / fold.samples
        print(f"sustained (POST + fold): {n / (seconds + fold_seconds):,.0f} samples/s")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
