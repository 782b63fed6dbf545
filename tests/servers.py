"""Private Redis and MariaDB servers that fault tests may stop, restart, freeze and thaw.

The shared servers (127.0.0.1:3306 and :6379) serve everyone on the machine and
must never be stopped or frozen: a fault test starts its own server on a spare
port, as a child process it owns, and does to it what an outage would.
"""

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from procs import ROOT, closed_port, wait_for

MARIADB_DATABASE = "db_django"

# Every database and user the tests create on a MySQL server they are pointed at
# (TEST_MYSQL_URL, DATABASE_URL) starts with this, and is dropped again at the end.
TEST_DB_PREFIX = os.environ.get("TEST_DB_PREFIX", "dbdjango_test_")
if not re.fullmatch(r"[A-Za-z0-9_]{1,20}", TEST_DB_PREFIX):
    raise ValueError(f"TEST_DB_PREFIX must be 1-20 letters, digits or underscores, not {TEST_DB_PREFIX!r}")


def connect_mysql(url: str, **options):
    """A MySQLdb connection to the server of a mysql:// URL, as its login (root when it names none)."""
    import MySQLdb

    parts = urlsplit(url)
    login = {"host": parts.hostname or "127.0.0.1", "port": parts.port or 3306, "user": parts.username or "root"}
    if parts.password:
        login["password"] = parts.password
    return MySQLdb.connect(**login, **{"connect_timeout": 5, **options})


def mysql_database_url(url: str, database: str, user: str | None = None, password: str | None = None) -> str:
    """The mysql:// URL of `database` on the server of `url`, as `user` (by default the URL's own login)."""
    parts = urlsplit(url)
    if user is None:
        user, password = parts.username or "root", parts.password
    login = f"{user}:{password}" if password else user
    return f"mysql://{login}@{parts.hostname or '127.0.0.1'}:{parts.port or 3306}/{database}"


def scratch_name(purpose: str) -> str:
    """A new name for a database or user one test creates and drops: TEST_DB_PREFIX + purpose + 8 hex digits."""
    return f"{TEST_DB_PREFIX}{purpose}_{secrets.token_hex(4)}"


def need_program(*names: str) -> str:
    """Path of the first of `names` installed (PATH, then sbin); skip, or fail under REQUIRE_SERVICES."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])
    for name in names:
        found = shutil.which(name, path=search)
        if found:
            return found
    message = f"{' or '.join(names)} is not installed"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (REQUIRE_SERVICES=1)")
    pytest.skip(message)


class Server:
    """A server process on a fixed port that can be stopped, started again, frozen and thawed.

    The port stays the same across restarts so clients configured with it
    (workers, the web process) come back without being told anything.
    """

    def __init__(self, args: list[str], port: int, log: Path, ready: Callable[[], bool], what: str):
        self.args, self.port, self.log, self.ready, self.what = args, port, log, ready, what
        self.proc: subprocess.Popen | None = None
        self.frozen = False

    def start(self, timeout: float = 60) -> None:
        assert self.proc is None, f"{self.what} is already running"
        with open(self.log, "ab") as out:
            # Own session: a Ctrl-C to the test run does not reach it before we stop it.
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: self._alive() and self.ready(), timeout, f"{self.what} to accept clients", self.log)

    def _alive(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{self.what} exited with {self.proc.returncode}\n{tail}")
        return True

    def stop(self, timeout: float = 30) -> None:
        """Shut the server down (SIGTERM, SIGKILL after `timeout`) and wait until it is gone."""
        if self.proc is None:
            return
        self.thaw()  # a stopped process cannot act on SIGTERM
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections on the port, nothing ever answers."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.proc is not None and self.frozen:
            self.proc.send_signal(signal.SIGCONT)
        self.frozen = False


# --- Redis --------------------------------------------------------------------------


class RedisServer(Server):
    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


def _redis_answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@contextmanager
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of our own on a spare port, in memory only; stopped (thawed first) on exit."""
    program = need_program("redis-server")
    port = closed_port()
    workdir = tmp_path / f"redis-{port}"
    workdir.mkdir()
    args = [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--daemonize", "no", "--dir", str(workdir)]
    server = RedisServer(args, port, tmp_path / f"redis-{port}.log", lambda: _redis_answers(port), "private redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- MariaDB --------------------------------------------------------------------------

# Small buffers: a throwaway server that must start in well under a second on a
# loaded two-core machine and whose data directory is cheap to copy.
MARIADB_OPTIONS = [
    "--bind-address=127.0.0.1",
    "--skip-name-resolve",
    "--skip-log-bin",
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=8M",
    "--max-connections=50",
]


def _as_root() -> list[str]:
    # mariadbd refuses to run as root unless told to; as any other user it runs as that user.
    return ["--user=root"] if os.geteuid() == 0 else []


class MariaDBServer(Server):
    def url(self, database: str = MARIADB_DATABASE) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{database}"

    def connect(self, **options):
        import MySQLdb

        return MySQLdb.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=2, **options)


def _mariadb_answers(server: MariaDBServer) -> bool:
    import MySQLdb

    try:
        server.connect().close()
        return True
    except MySQLdb.Error:
        return False


def _mariadb(datadir: Path, log_dir: Path, options: Sequence[str] = ()) -> MariaDBServer:
    program = need_program("mariadbd", "mysqld")
    port = closed_port()
    # A unix socket path is limited to 108 bytes; pytest's tmp paths can be longer.
    socket_path = Path(tempfile.gettempdir()) / f"faults-mariadb-{port}.sock"
    args = [
        program,
        "--no-defaults",
        *_as_root(),
        f"--datadir={datadir}",
        f"--port={port}",
        f"--socket={socket_path}",
        f"--pid-file={datadir / 'mariadbd.pid'}",
        f"--tmpdir={datadir}",
        *MARIADB_OPTIONS,
        *options,  # after the defaults: the last occurrence of an option wins
    ]
    server = MariaDBServer(args, port, log_dir / f"mariadb-{port}.log", lambda: False, "private mariadb")
    server.ready = lambda: _mariadb_answers(server)
    return server


def install_mariadb(datadir: Path, log: Path) -> None:
    """An empty data directory with root@localhost/127.0.0.1 and no password (what mysql:// URLs need)."""
    program = need_program("mariadb-install-db", "mysql_install_db")
    with open(log, "ab") as out:
        subprocess.run(
            [
                program,
                "--no-defaults",
                *_as_root(),
                f"--datadir={datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--innodb-log-file-size=8M",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
        )


def build_mariadb_template(directory: Path) -> Path:
    """Install a data directory and migrate the app's database into it; returns the datadir.

    Done once per test session (see the callers' session fixtures): every test then
    starts from a copy (`private_mariadb`), which costs a fraction of a second
    instead of an install plus a full `migrate`.
    """
    datadir = directory / "datadir"
    install_mariadb(datadir, directory / "install.log")
    server = _mariadb(datadir, directory)
    server.start()
    try:
        with server.connect() as conn:
            conn.cursor().execute(
                f"CREATE DATABASE {MARIADB_DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        env = {**os.environ, "DATABASE_URL": server.url(), "VAR_DIR": str(directory), "PYTHONUNBUFFERED": "1"}
        with open(directory / "migrate.log", "wb") as out:
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=300,
            )
    finally:
        server.stop()
    return datadir


@contextmanager
def private_mariadb(
    template: Path, tmp_path: Path, name: str = "mariadb-data", options: Sequence[str] = ()
) -> Iterator[MariaDBServer]:
    """A mariadbd of our own on a spare port, on a copy of `template` in tmp_path/name; stopped on exit."""
    datadir = tmp_path / name
    shutil.copytree(template, datadir)
    server = _mariadb(datadir, tmp_path, options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        Path(tempfile.gettempdir(), f"faults-mariadb-{server.port}.sock").unlink(missing_ok=True)


# Row-based binary log on the primary; on the replica relay logs, and read_only, which
# binds the application's user (no SUPER) as on a production replica, not replication.
PRIMARY_OPTIONS = ["--server-id=1", "--log-bin=primary-bin", "--binlog-format=ROW"]
REPLICA_OPTIONS = ["--server-id=2", "--relay-log=replica-relay-bin", "--read-only"]


@contextmanager
def replicating_mariadb(template: Path, tmp_path: Path) -> Iterator[tuple[MariaDBServer, MariaDBServer]]:
    """A private primary and a replica of it, both on copies of `template`; stopped on exit.

    Both start from the same data, and the primary logs every change from its
    first start, so the replica follows it from the beginning of its binary log.
    The replica keeps its position in GTIDs (mysql.gtid_slave_pos, InnoDB): a
    replica killed with SIGKILL resumes where it was instead of applying events twice.
    """
    with (
        private_mariadb(template, tmp_path, "primary-data", PRIMARY_OPTIONS) as primary,
        private_mariadb(template, tmp_path, "replica-data", REPLICA_OPTIONS) as replica,
    ):
        with replica.connect() as conn:
            conn.cursor().execute(
                "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%s, MASTER_USER='root',"
                " MASTER_PASSWORD='', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos",
                (primary.port,),
            )
            conn.cursor().execute("START SLAVE")
        wait_for(lambda: replication_caught_up(primary, replica), 60, "the replica to follow the primary")
        yield primary, replica


def replica_status(replica: MariaDBServer) -> dict:
    """The replica's SHOW SLAVE STATUS row, by column name."""
    import MySQLdb.cursors

    with replica.connect(cursorclass=MySQLdb.cursors.DictCursor) as conn:
        cursor = conn.cursor()
        cursor.execute("SHOW SLAVE STATUS")
        return cursor.fetchone() or {}


def replication_caught_up(primary: MariaDBServer, replica: MariaDBServer) -> bool:
    """Both replication threads run and the replica has applied everything the primary has logged."""
    with primary.connect() as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT @@gtid_binlog_pos")
        logged = cursor.fetchone()[0]
    status = replica_status(replica)
    if status.get("Slave_IO_Running") != "Yes" or status.get("Slave_SQL_Running") != "Yes":
        return False
    with replica.connect() as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT @@gtid_slave_pos")
        return cursor.fetchone()[0] == logged


def timed(call: Callable[[], object]) -> tuple[object, float]:
    """`call()` and the seconds it took."""
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started
