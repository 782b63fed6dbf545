"""The API as outside clients meet it: gunicorn in production mode on a spare port, a token, real samples.

Postman's collection runner (newman) and a generated Python client talk to it
over HTTP like any client would: DJANGO_DEBUG=0 (JSON only, tokens required),
the deployed gunicorn settings, the test database. Plain HTTP on loopback, as
behind nginx (which terminates TLS), so the clients need no certificate.
"""

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from monitor.api.auth import issue_token
from monitor.api.schemas import EXAMPLE_HOST, EXAMPLE_SAMPLE
from monitor.models import CollectionCycle
from procs import ROOT, child_env, closed_port, running, wait_for
from servers import need_program

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
NPM_BIN = ROOT / "var" / "npm" / "node_modules" / ".bin"

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "live-api-Vb8qZr2Xn5Kt7Lw1Pd4Sy9Fh3Jm6Cg0Ea-uT_oI2pR7sW4vY9zQ1",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "DJANGO_SECURE_SSL_REDIRECT": "0",  # nginx redirects in production; here the clients speak HTTP
    "MONITOR_MYSQL_URLS": "",
    "CELERY_BROKER_URL": "filesystem://",  # under the test's VAR_DIR: collect queues there, nobody consumes
    "CACHE_URL": "",
    "HOST_STALE_AFTER": "600",
}


@dataclass
class LiveApi:
    url: str
    key: str  # a read-write token's key
    log: Path

    def call(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        """One request with the token; the answer's status and JSON (or raw bytes)."""
        headers = {"Host": "127.0.0.1", "Accept": "application/json", "Authorization": f"Bearer {self.key}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", int(self.url.rsplit(":", 1)[1]), timeout=30)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(raw)
        return response.status, raw

    def seed(self) -> None:
        """Real samples, sent as an agent sends them: the examples' sample, and `web-1` reporting now."""
        now = datetime.now(UTC).isoformat()
        status, body = self.call("POST", "/monitor/resources/", EXAMPLE_SAMPLE)
        assert status == 201, body
        batch = [
            {"name": "cpu.percent", "value": 20.0 + i, "host": EXAMPLE_HOST, "timestamp": f"2026-11-25T10:0{i}:30Z"}
            for i in range(5)
        ]
        batch.append({"name": "memory.used_percent", "value": 41.0, "host": EXAMPLE_HOST, "timestamp": now})
        status, body = self.call("POST", "/monitor/resources/", batch)
        assert status == 201, body
        # A worker's cycle, as a running worker leaves one: health's worker check reads these.
        CollectionCycle.objects.create(task_id="live-api-seed", host=EXAMPLE_HOST)
        # A silence the silence examples (read, replace, patch, delete by id) find: the schema names its id.
        silence = {"matchers": [{"name": "host", "value": EXAMPLE_HOST}], "ends_at": "2036-01-01T00:00:00Z"}
        status, body = self.call("POST", "/monitor/alerts/silences/", {**silence, "comment": "seeded"})
        assert status == 201, body

    def schema(self, path: Path) -> Path:
        """/monitor/schema/ as JSON, saved as a client would download it."""
        status, body = self.call("GET", "/monitor/schema/?format=json")
        assert status == 200, body
        path.write_text(json.dumps(body, indent=1))
        return path


@contextmanager
def live_api(tmp_path: Path) -> Iterator[LiveApi]:
    """gunicorn (deploy/gunicorn.conf.py, one worker) in production mode on the test database."""
    _, key = issue_token("outside client", "write")
    port = closed_port()
    log = tmp_path / "gunicorn.log"
    args = [GUNICORN, "db_django.wsgi", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    args += ["-b", f"127.0.0.1:{port}", "--workers", "1"]
    with running(args, child_env(tmp_path, **PRODUCTION), log) as proc:
        api = LiveApi(f"http://127.0.0.1:{port}", key, log)

        def serving() -> bool:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                return api.call("GET", "/monitor/hosts/")[0] == 200
            except OSError:
                return False

        wait_for(serving, 60, "gunicorn to serve", log)
        yield api


def npm_tool(name: str) -> str:
    """A tool scripts/api-tools.sh installs (pinned) into var/npm; installed here if it is missing."""
    tool = NPM_BIN / name
    if not tool.exists():
        need_program("npm")
        subprocess.run(["bash", str(ROOT / "scripts" / "api-tools.sh")], check=True, timeout=660)
    return str(tool)
