"""The browsable API's forms, filled in and sent from headless Chromium as a person would.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
NUL-separated JSON on file descriptors 3 and 4), so no driver or websocket library
is needed. The site is gunicorn in the embedded mode (test_security_headers_browser's
`site`), under its Content-Security-Policy; any violation the console reports fails.
"""

import itertools
import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path

import pytest
from test_security_headers_browser import VIOLATION, site  # noqa: F401 - the fixture, shared

from monitor.models import Series
from monitor.storage.queries import resource_row
from samples import store
from servers import need_program

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TIMEOUT = 30.0


class DevTools:
    """One headless Chromium and one page in it, over the DevTools pipe."""

    def __init__(self, profile: Path) -> None:
        chromium = need_program("chromium", "chromium-browser")
        to_chrome_read, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_write = os.pipe()

        def on_fds_3_and_4() -> None:  # in the child, before exec: where --remote-debugging-pipe looks
            os.dup2(to_chrome_read, 3)
            os.dup2(from_chrome_write, 4)

        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
            + ["--disable-background-networking", "--disable-component-update", f"--user-data-dir={profile}"]
            + ["--remote-debugging-pipe", "about:blank"],
            preexec_fn=on_fds_3_and_4,
            pass_fds=(3, 4),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        self._ids = itertools.count(1)
        self._answers: dict[int, queue.Queue] = {}
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=True)

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._from_chrome, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._answers.setdefault(message["id"], queue.Queue()).put(message)
                    else:
                        self.events.put(message)

    def send(self, method: str, session: bool = False, **params) -> dict:
        number = next(self._ids)
        answer = self._answers.setdefault(number, queue.Queue())
        message = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        got = answer.get(timeout=TIMEOUT)
        assert "error" not in got, (method, got)
        return got["result"]

    def evaluate(self, expression: str) -> object:
        result = self.send("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.send("Page.navigate", session=True, url=url)
        self.wait_for(f"document.readyState === 'complete' && location.href === {json.dumps(url)}")

    def wait_for(self, condition: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not self.evaluate(f"Boolean({condition})"):
            assert time.monotonic() < deadline, f"timed out waiting for {condition}: {self.text()[-1500:]}"
            time.sleep(0.1)

    def text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def console(self) -> list[str]:
        """What the page logged so far (CSP violations among it)."""
        found = []
        while not self.events.empty():
            event = self.events.get()
            if event.get("method") == "Log.entryAdded":
                found.append(event["params"]["entry"]["text"])
            elif event.get("method") == "Runtime.consoleAPICalled":
                found.append(" ".join(str(arg.get("value", "")) for arg in event["params"]["args"]))
        return found

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, queue.Empty, AssertionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._to_chrome)


@pytest.fixture
def browser(tmp_path):
    chrome = DevTools(tmp_path / "chrome")
    yield chrome
    chrome.close()


def fill(form: str, values: dict[str, str]) -> str:
    """JavaScript that types `values` into the fields of the form `form` (a CSS selector)."""
    return ";".join(
        f"document.querySelector({json.dumps(form)}).querySelector('[name={name}]').value = {json.dumps(value)}"
        for name, value in values.items()
    )


HTML_POST_FORM = 'form[method="POST"][enctype="multipart/form-data"]'
HTML_PUT_FORM = 'form[data-method="PUT"][enctype="multipart/form-data"]'


def test_the_html_form_on_the_list_stores_a_sample(site, browser):  # noqa: F811
    browser.open(f"{site}/monitor/resources/")
    assert browser.evaluate(f"document.querySelectorAll('{HTML_POST_FORM} input, {HTML_POST_FORM} textarea').length")
    browser.evaluate(fill(HTML_POST_FORM, {"name": "typed.in.browser", "value": "42.5", "host": "desk-1"}))
    browser.evaluate(f"document.querySelector('{HTML_POST_FORM} button[type=submit], {HTML_POST_FORM} button').click()")
    browser.wait_for("document.body && document.body.innerText.includes('HTTP 201 Created')")
    assert '"name": "typed.in.browser"' in browser.text()
    series = Series.objects.get(name="typed.in.browser", host="desk-1")
    (row,) = series.__class__.objects.filter(id=series.id).latest_rows()
    assert row.value == 42.5
    assert [line for line in browser.console() if VIOLATION in line] == []


def test_the_put_form_on_a_sample_replaces_its_value(site, browser):  # noqa: F811
    row = store("typed.in.browser", 1.0, host="desk-1")
    browser.open(f"{site}/monitor/resources/{row.id}/")
    shown = browser.evaluate(f"document.querySelector('{HTML_PUT_FORM} [name=timestamp]').value")
    assert shown == row.timestamp.isoformat().replace("+00:00", "Z")  # to the microsecond: sent back, it stays put
    browser.evaluate(fill(HTML_PUT_FORM, {"value": "7.25"}))  # the rest as the form shows it
    browser.evaluate(f"document.querySelector('{HTML_PUT_FORM} button').click()")
    browser.wait_for(
        "document.body && document.body.innerText.includes('HTTP 200 OK') && document.body.innerText.includes('7.25')"
    )
    assert resource_row(row.series_id, row.ts).value == 7.25
    assert [line for line in browser.console() if VIOLATION in line] == []


def test_the_api_root_page_links_every_endpoint(site, browser):  # noqa: F811
    browser.open(f"{site}/monitor/")
    links = browser.evaluate("Array.from(document.querySelectorAll('.response-info a')).map(a => a.textContent)")
    assert [link.removeprefix(site) for link in links] == [
        "/monitor/resources/",
        "/monitor/resources/latest/",
        "/monitor/resources/series/",
        "/monitor/hosts/",
        "/monitor/application/",
        "/monitor/health/",
        "/monitor/collect/",
        "/monitor/alerts/",
        "/monitor/alerts/rules/",
        "/monitor/alerts/events/",
        "/monitor/alerts/silences/",
        "/monitor/metrics",
        "/monitor/schema/",
        "/monitor/docs/",
    ]
