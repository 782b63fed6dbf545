"""Slow clients: behind the shipped nginx site the app keeps answering; bare gunicorn does not.

Runs the production pieces for real: gunicorn with deploy/gunicorn.conf.py (4
workers of 8 threads) in the environment of deploy/env.example, and nginx (the Debian package)
with deploy/nginx/db_django.conf, rendered by deploy/nginx/render.py for spare
ports, this gunicorn and a throwaway self-signed certificate, running as the
current user under a temp prefix. Then it attacks both as issue 10 did: bodies
sent slowly to /admin/login/, and a request head trickled a byte at a time.
"""

import http.client
import io
import json
import runpy
import secrets
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command

from procs import ROOT, child_env, closed_port, running, wait_for
from servers import need_program

# The children use this run's test database (pytest-django sets one up only for marked tests).
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
DEPLOY = ROOT / "deploy"
IN_TIME = 1.5  # seconds: what /monitor/health/ promises whatever else happens
# client_header_timeout of the shipped site, after which nginx drops a trickling head.
HEADER_TIMEOUT = 10


def slow_login_head(scheme: str) -> bytes:
    """What a browser sends to log in, up to the first bytes of the form.

    Django reads the form only once the CSRF checks before it pass: a CSRF cookie
    (any 32 letters pass the format check, as an attacker knows) and an Origin
    that matches the scheme the app sees.
    """
    return (
        "POST /admin/login/ HTTP/1.1\r\n"
        "Host: localhost\r\n"
        f"Origin: {scheme}://localhost\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Cookie: csrftoken={'a' * 32}\r\n"
        "Content-Length: 100000\r\n"
        "\r\n"
        "username=admin&password="
    ).encode()


@dataclass
class Stack:
    gunicorn: int  # port
    http: int
    https: int
    cert: Path

    def tls(self) -> ssl.SSLContext:
        """Verifies nginx's certificate for "localhost", like `curl --cacert`."""
        return ssl.create_default_context(cafile=str(self.cert))


def env_example(**overrides: str) -> dict[str, str]:
    """deploy/env.example as systemd reads it (KEY=value lines), with `overrides` on top."""
    values = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return {**values, **overrides}


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """The README's openssl command: a certificate for localhost and 127.0.0.1."""
    openssl = need_program("openssl")
    cert, key = folder / "localhost.crt", folder / "localhost.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def get(stack: Stack, scheme: str, path: str, timeout: float = 5) -> tuple[int, dict, bytes, float]:
    """One GET through nginx, no redirects followed: status, headers, body, seconds."""
    started = time.monotonic()
    if scheme == "https":
        conn = http.client.HTTPSConnection("localhost", stack.https, timeout=timeout, context=stack.tls())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", stack.http, timeout=timeout)
    with closing(conn):
        conn.request("GET", path, headers={"Accept": "application/json"})
        response = conn.getresponse()
        body = response.read()
        return response.status, dict(response.getheaders()), body, time.monotonic() - started


def health_straight_at_gunicorn(stack: Stack, timeout: float) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", stack.gunicorn, timeout=timeout)
    with closing(conn):
        conn.request("GET", "/monitor/health/", headers={"Host": "localhost"})
        return conn.getresponse().status


def assert_answers_in_time(stack: Stack, scheme: str, path: str) -> float:
    try:
        status, _, body, seconds = get(stack, scheme, path)
    except TimeoutError:
        raise AssertionError(f"{scheme}://...{path}: no answer within 5 s") from None
    # Health is 503 here (no worker reports); what matters is that the app answered.
    expected = (200, 503) if path.startswith("/monitor/health/") else (200,)
    assert status in expected, (status, body[:300])
    assert json.loads(body), body[:300]
    assert seconds < IN_TIME, f"{scheme}://...{path} took {seconds:.2f}s"
    return seconds


@contextmanager
def slow_bodies(port: int, count: int, tls: ssl.SSLContext | None) -> Iterator[list[socket.socket]]:
    """`count` connections that sent a request head and the start of its body, and then wait."""
    with ExitStack() as stack:
        socks = []
        for _ in range(count):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
            if tls is not None:
                sock = stack.enter_context(tls.wrap_socket(sock, server_hostname="localhost"))
            sock.sendall(slow_login_head("http" if tls is None else "https"))
            socks.append(sock)
        yield socks


class HeaderTrickle:
    """Slowloris: connections that send their request head one byte every half second.

    Records, per connection, how long it stayed open until the server closed it.
    """

    def __init__(self, port: int, count: int):
        self.socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
        self.open_for: dict[int, float] = {}
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "HeaderTrickle":
        for sock in self.socks:
            sock.sendall(b"GET /monitor/resources/ HTTP/1.1\r\nHost: localhost\r\nX-Padding: ")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self.socks:
            sock.close()

    def _run(self) -> None:
        while not self._stop.is_set() and len(self.open_for) < len(self.socks):
            live = [i for i in range(len(self.socks)) if i not in self.open_for]
            readable, _, _ = select.select([self.socks[i] for i in live], [], [], 0.5)
            for i in live:
                sock = self.socks[i]
                try:
                    # The server speaks only to close (nginx sends nothing on a header timeout).
                    if sock in readable and not sock.recv(4096):
                        raise ConnectionResetError
                    sock.sendall(b"a")
                except OSError:
                    self.open_for[i] = time.monotonic() - self.started

    def wait_closed(self, timeout: float) -> dict[int, float]:
        deadline = time.monotonic() + timeout
        while len(self.open_for) < len(self.socks) and time.monotonic() < deadline:
            time.sleep(0.2)
        return dict(self.open_for)


@pytest.fixture(scope="module")
def stack(django_db_setup, tmp_path_factory) -> Iterator[Stack]:
    """gunicorn (deploy/gunicorn.conf.py) and nginx (the shipped site) on spare ports."""
    nginx = need_program("nginx")
    tmp = tmp_path_factory.mktemp("slow-clients")
    cert, key = self_signed_certificate(tmp)
    ports = Stack(gunicorn=closed_port(), http=closed_port(), https=closed_port(), cert=cert)
    prefix = tmp / "nginx"
    subprocess.run(
        [sys.executable, str(DEPLOY / "nginx" / "render.py"), "--prefix", str(prefix), "--cert", str(cert)]
        + ["--key", str(key), "--http-port", str(ports.http), "--https-port", str(ports.https)]
        + ["--upstream", f"127.0.0.1:{ports.gunicorn}"],
        check=True,
        timeout=30,
    )
    # The shipped environment; only what is machine-specific or secret is replaced,
    # and reads are opened so a plain GET stands for "a normal API request".
    settings = env_example(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        CELERY_BROKER_URL="filesystem://",
        CACHE_URL="",
        API_PUBLIC_READS="1",
        MONITOR_MYSQL_URLS="",
        MONITOR_REDIS_URLS="",
    )
    # child_env: this run's test database and a VAR_DIR in tmp.
    base = child_env(tmp)
    env = {**base, **settings, "DATABASE_URL": base["DATABASE_URL"], "VAR_DIR": base["VAR_DIR"]}
    env.pop("GUNICORN_CMD_ARGS", None)
    web_log, nginx_log = tmp / "gunicorn.log", tmp / "nginx.log"
    web_args = [GUNICORN, "-c", str(DEPLOY / "gunicorn.conf.py"), "-b", f"127.0.0.1:{ports.gunicorn}"]
    nginx_args = [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]
    with running([*web_args, "db_django.wsgi"], env, web_log) as web, running(nginx_args, env, nginx_log) as proxy:

        def serving() -> bool:
            assert web.poll() is None, web_log.read_text(errors="replace")[-3000:]
            assert proxy.poll() is None, nginx_log.read_text(errors="replace")[-3000:]
            if web_log.read_text(errors="replace").count("Booting worker") < 4:
                return False
            try:
                return get(ports, "https", "/monitor/health/")[0] in (200, 503)
            except OSError:
                return False

        wait_for(serving, 60, "gunicorn's 4 workers behind nginx", web_log)
        # Every worker's first request imports and connects; warm all four up, so
        # the timings below measure waiting, not a cold start.
        with ThreadPoolExecutor(8) as pool:
            paths = ["/monitor/health/", "/monitor/resources/"] * 4
            for _ in range(3):
                list(pool.map(lambda path: get(ports, "https", path, 30), paths))
        yield ports


def test_plain_http_redirects_to_https_except_the_health_check(stack):
    status, headers, _, _ = get(stack, "http", "/monitor/resources/?page_size=1")
    assert status == 301
    assert headers["Location"] == f"https://127.0.0.1:{stack.https}/monitor/resources/?page_size=1"
    # Load balancers probe over plain HTTP: neither nginx nor the app redirects it.
    status, headers, body, _ = get(stack, "http", "/monitor/health/")
    assert status in (200, 503) and "status" in json.loads(body)
    assert "Strict-Transport-Security" not in headers
    # Over HTTPS the app sees X-Forwarded-Proto: https and trusts it (HSTS only on secure requests).
    status, headers, _, _ = get(stack, "https", "/monitor/resources/?page_size=1")
    assert status == 200 and headers["Strict-Transport-Security"].startswith("max-age=")


def test_health_and_reads_answer_in_time_while_slow_bodies_hang_on_nginx(stack):
    with slow_bodies(stack.https, 8, stack.tls()):
        time.sleep(1)  # every slow connection is in and waiting
        timings = [
            assert_answers_in_time(stack, scheme, path)
            for scheme, path in [
                ("http", "/monitor/health/"),
                ("https", "/monitor/health/"),
                ("https", "/monitor/resources/?page_size=10"),
                ("https", "/monitor/health/"),
            ]
        ]
        # nginx holds the bodies: all four workers are free, not just one.
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda _: health_straight_at_gunicorn(stack, IN_TIME), range(4)))
        assert set(statuses) <= {200, 503}
    print(f"\nthrough nginx with 8 slow bodies held: {', '.join(f'{t:.3f}s' for t in timings)}")


def test_a_trickled_request_head_blocks_nobody_and_is_cut_off(stack):
    with HeaderTrickle(stack.http, 8) as trickle:
        time.sleep(1)
        timings = [assert_answers_in_time(stack, "https", "/monitor/health/") for _ in range(3)]
        timings.append(assert_answers_in_time(stack, "https", "/monitor/resources/?page_size=10"))
        closed = trickle.wait_closed(HEADER_TIMEOUT + 5)
    assert len(closed) == 8, f"nginx still holds {8 - len(closed)} trickling connections"
    # Cut off by client_header_timeout: not at once, and not much later.
    assert all(HEADER_TIMEOUT - 1 <= seconds <= HEADER_TIMEOUT + 4 for seconds in closed.values()), closed
    print(f"\nwith 8 trickling heads: {', '.join(f'{t:.3f}s' for t in timings)}; cut after {sorted(closed.values())}")


def test_the_same_slow_bodies_straight_at_gunicorn_hold_every_worker(stack):
    """The control: without nginx, one slow body per thread takes every thread of every worker."""
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    # The kernel spreads connections unevenly over the worker processes: several
    # times their threads make sure every process has one for each of its threads,
    # nearly always; a process still left with a free thread gets more in the next round.
    threads = conf["workers"] * conf.get("threads", 1)
    slots = 0
    with ExitStack() as held:
        for _ in range(3):
            held.enter_context(slow_bodies(stack.gunicorn, 4 * threads, None))
            slots += 4 * threads
            time.sleep(1)  # every thread has accepted one and reads its body
            started = time.monotonic()
            try:
                health_straight_at_gunicorn(stack, 2)
            except TimeoutError:
                blocked = time.monotonic() - started
                break
        else:
            pytest.fail(f"bare gunicorn still answered with {slots} slow bodies")
    # The slow clients gone, the same workers answer again (none was killed).
    status = wait_for(lambda: _answers(stack), 10, "gunicorn to answer after the slow clients left")
    assert status in (200, 503)
    print(f"\nbare gunicorn with {slots} slow bodies: no answer within {blocked:.2f}s")


def _answers(stack: Stack) -> int | None:
    try:
        return health_straight_at_gunicorn(stack, 2)
    except OSError:
        return None


def post(stack: Stack, size: int, token: str = "") -> tuple[int, dict]:
    """A bulk POST of `size` bytes through nginx."""
    body = b'[{"name": "x", "value": 1, "description": "' + b"a" * (size - 46) + b'"}]'
    assert len(body) == size
    conn = http.client.HTTPSConnection("localhost", stack.https, timeout=30, context=stack.tls())
    with closing(conn):
        headers = {"Content-Type": "application/json"} | ({"Authorization": f"Token {token}"} if token else {})
        conn.request("POST", "/monitor/resources/", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())


def test_the_apps_answer_to_a_large_body_it_did_not_read_reaches_the_client(stack):
    """Not a 502: gunicorn (deploy/gunicorn.conf.py post_request) reads the rest first."""
    # DATA_UPLOAD_MAX_MEMORY_SIZE bytes without a token: 401 before the body is read.
    answers = [post(stack, 2_621_440) for _ in range(5)]
    assert all(status == 401 and "credentials" in body["detail"] for status, body in answers), answers
    # Over the app's limit, under nginx's: the app's 413, also without reading it.
    out = io.StringIO()
    call_command("tokens", "create", "slow-clients", "--scope", "write", stdout=out, stderr=io.StringIO())
    answers = [post(stack, 3_000_000, out.getvalue().strip()) for _ in range(5)]
    assert all(status == 413 and "too large" in body["detail"] for status, body in answers), answers


def test_a_body_over_client_max_body_size_is_refused_by_nginx_in_json(stack):
    status, body = post(stack, 3_500_000)
    assert status == 413 and body == {"detail": "Request body too large: at most 3 MB."}
