"""The HTML pages still work in a real browser under their Content-Security-Policy.

Headless Chromium loads each page from gunicorn (embedded mode: the browsable API
on, assets from /static/ through WhiteNoise) and prints the DOM once scripts have
run; every blocked script, style or fetch is logged on its console, which goes to
stderr. Swagger UI has rendered only if its scripts ran and it fetched the schema.
"""

import http.server
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.security_headers import HTML_POLICY
from procs import child_env, closed_port, listening, running, wait_for
from samples import store
from servers import need_program

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
VIOLATION = "Content Security Policy"


@pytest.fixture
def site(tmp_path) -> Iterator[str]:
    port = closed_port()
    log = tmp_path / "gunicorn.log"
    args = [GUNICORN, "db_django.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "--timeout", "30"]
    with running(args, child_env(tmp_path, MONITOR_MYSQL_URLS=""), log):
        wait_for(lambda: listening("127.0.0.1", port), 60, "gunicorn to listen", log)
        yield f"http://127.0.0.1:{port}"


def browse(url: str, profile: Path) -> tuple[str, str]:
    """The DOM after the page's scripts ran, and the browser's console log."""
    chromium = need_program("chromium", "chromium-browser")
    args = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=8000",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=90)
    return done.stdout, done.stderr


def violations(console: str) -> list[str]:
    return [line for line in console.splitlines() if VIOLATION in line]


def policy_of(url: str) -> str:
    """The policy of the page as a browser asks for it (DRF answers JSON to other clients)."""
    request = urllib.request.Request(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.headers["Content-Security-Policy"]


def test_the_browser_reports_an_inline_script_the_policy_blocks(tmp_path):
    """The console check below is not vacuous: an inline script under the policy is logged as blocked."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body><script>document.body.append('ran')</script></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Security-Policy", HTML_POLICY)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dom, console = browse(f"http://127.0.0.1:{server.server_port}/", tmp_path / "chrome")
    finally:
        server.shutdown()
        server.server_close()
    assert "ran" not in dom.replace("<script>document.body.append('ran')</script>", "")
    assert violations(console), console[-2000:]


def test_swagger_ui_renders_every_endpoint_under_the_policy(site, tmp_path):
    assert policy_of(f"{site}/monitor/docs/") == HTML_POLICY
    dom, console = browse(f"{site}/monitor/docs/", tmp_path / "chrome")
    assert violations(console) == []
    # Rendered by Swagger UI's scripts from the schema it fetched.
    for path in ("/monitor/resources/", "/monitor/health/", "/monitor/application/"):
        assert f'data-path="{path}"' in dom, dom[-2000:]


@pytest.mark.parametrize("path", ["/monitor/", "/monitor/resources/", "/monitor/resources/{id}/", "/admin/login/"])
def test_the_browsable_api_and_the_admin_run_under_the_policy(site, tmp_path, path):
    row = store(name="browser.sample", value=1.0)
    assert policy_of(site + path.format(id=row.id)) == HTML_POLICY
    dom, console = browse(site + path.format(id=row.id), tmp_path / "chrome")
    assert violations(console) == []
    assert "</body>" in dom and len(dom) > 2000, dom[-2000:]
