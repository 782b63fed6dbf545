"""The web process as the README deploys it: gunicorn, DJANGO_DEBUG=0, MariaDB as the app user, Redis.

Fault tests drive it over real HTTP: Django's test client runs the view in the
test's own thread and skips what gunicorn's workers, their threads and their
persistent database connections do, which is where the faults show.
"""

import http.client
import json
import runpy
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from procs import ROOT, child_env, closed_port, running, wait_for
from servers import MARIADB_DATABASE, MariaDBServer

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))

# The documented web command (README "Production", deploy/gunicorn.conf.py):
# `gunicorn db_django.wsgi -w 4 -k gthread --threads 8 --timeout 30`.
# The production web process as deploy/gunicorn.conf.py configures it (the command line's -b wins over its bind).
DEPLOY_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
_DEPLOYED = runpy.run_path(str(DEPLOY_CONFIG))
WORKERS, THREADS = _DEPLOYED["workers"], _DEPLOYED["threads"]
DOCUMENTED_ARGS = ["-c", str(DEPLOY_CONFIG)]

# sql/create_database.sql's application user: no SUPER, so read_only applies to it.
APP_USER, APP_PASSWORD = "db_django", "change-me"
ADMIN_USER, ADMIN_PASSWORD = "faults-admin", "faults-admin-password-4711"

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "web-faults-7Kp2mQv9Lr4Tz8Wc1Ny6Hb3Jd5Fs0Ga-uE_iO7pR2sT9vX4yZ1q",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    # As behind nginx: HTTPS is the proxy's; requests below say so in X-Forwarded-Proto.
    "DJANGO_BEHIND_TLS_PROXY": "1",
    "MONITOR_MYSQL_URLS": "",
    # A Host row written at the start stays fresh for the whole test.
    "HOST_STALE_AFTER": "600",
}


def provision_app_user(db: MariaDBServer) -> str:
    """Run sql/create_database.sql on the private server; the DATABASE_URL of its application user."""
    script = (ROOT / "sql" / "create_database.sql").read_text()
    subprocess.run(
        ["mysql", "-h", "127.0.0.1", "-P", str(db.port), "-u", "root"],
        input=script,
        text=True,
        check=True,
        capture_output=True,
        timeout=30,
    )
    return f"mysql://{APP_USER}:{APP_PASSWORD}@127.0.0.1:{db.port}/{MARIADB_DATABASE}"


@dataclass
class Keys:
    read: str
    write: str


def seed(db: MariaDBServer) -> Keys:
    """Read and write tokens, a staff user, and a host whose worker just stored a cycle (health: workers ok)."""
    from django.contrib.auth.hashers import make_password

    from monitor.api.auth import KEY_PREFIX, hash_key

    keys = Keys(read=KEY_PREFIX + "faults-read-key-0123456789", write=KEY_PREFIX + "faults-write-key-0123456789")
    with db.connect(database=MARIADB_DATABASE) as conn:
        cursor = conn.cursor()
        for name, key in (("read", keys.read), ("write", keys.write)):
            cursor.execute(
                "INSERT INTO monitor_apitoken (name, scope, prefix, key_hash, created_at)"
                " VALUES (%s, %s, %s, %s, UTC_TIMESTAMP(6))",
                (f"faults {name}", name, key[:12], hash_key(key)),
            )
        cursor.execute(
            "INSERT INTO auth_user (username, password, is_superuser, is_staff, is_active, first_name, last_name,"
            " email, date_joined) VALUES (%s, %s, 1, 1, 1, '', '', '', UTC_TIMESTAMP(6))",
            (ADMIN_USER, make_password(ADMIN_PASSWORD)),
        )
        cursor.execute(
            "INSERT INTO monitor_host (name, first_seen, last_seen)"
            " VALUES ('faults-host', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))"
        )
        cursor.execute(
            "INSERT INTO monitor_collectioncycle (task_id, host, stored_at, `rows`)"
            " VALUES ('faults-cycle', 'faults-host', UTC_TIMESTAMP(6), 0)"
        )
        conn.commit()
    return keys


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: object
    seconds: float
    raw: bytes = field(repr=False, default=b"")

    @property
    def is_json(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/json")


@dataclass
class Web:
    port: int
    log: Path
    proc: subprocess.Popen

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        token: str | None = None,
        https: bool = True,
        timeout: float = 45,
        headers: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> Answer:
        """One request on a new connection; `https` adds the header nginx sets after terminating TLS.

        `body` is sent as JSON, `form` as an HTML form.
        """
        sent = {"Host": "127.0.0.1", "Accept": "application/json", **(headers or {})}
        if https:
            sent["X-Forwarded-Proto"] = "https"
        if token:
            sent["Authorization"] = f"Token {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if form is not None:
            data = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            raw = response.read()
            got = {k.lower(): v for k, v in response.getheaders()}
        finally:
            conn.close()
        seconds = time.monotonic() - started
        parsed: object = raw
        if got.get("content-type", "").startswith("application/json"):
            parsed = json.loads(raw)
        return Answer(response.status, got, parsed, seconds, raw)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def booted_workers(self) -> int:
        return self.log_text().count("Booting worker")


@contextmanager
def production_web(
    tmp_path: Path, database_url: str, redis_url: str, args: list[str] | None = None, **env: str
) -> Iterator[Web]:
    """gunicorn with the documented worker settings and production environment; ready when health answers."""
    port = closed_port()
    log = tmp_path / "gunicorn.log"
    environment = child_env(
        tmp_path,
        **PRODUCTION,
        DATABASE_URL=database_url,
        CACHE_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        **env,
    )
    command = [GUNICORN, "db_django.wsgi", "-b", f"127.0.0.1:{port}", *(DOCUMENTED_ARGS if args is None else args)]
    with running(command, environment, log) as proc:
        web = Web(port, log, proc)

        def serving() -> bool:
            assert proc.poll() is None, web.log_text()[-3000:]
            try:
                return web.call("GET", "/monitor/health/", timeout=5).status in (200, 503)
            except OSError:
                return False

        wait_for(serving, 90, "gunicorn to serve", log)
        workers = int(command[command.index("--workers") + 1]) if "--workers" in command else 1
        wait_for(lambda: web.booted_workers() >= workers, 30, f"{workers} workers to boot", log)
        yield web
