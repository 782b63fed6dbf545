"""Regenerate the READMEs' screenshots (assets/) with headless Chromium from a running instance.

    .venv/bin/python scripts/screenshots.py [--port 8000] [--minutes 4] [--mysql URL] [--redis URL]

Starts a throwaway embedded-mode server (its own VAR_DIR, SQLite) on --port, the
README's 8000 by default, since the pages show their own URLs. Data:

- this machine's real metrics: the collectors run in this process every 2 s for
  --minutes (METRICS_INTERVAL=2), with the MySQL and Redis servers given (default: the
  local ones when they answer);
- history loaded through the API afterwards, as agents push it: three agent hosts with
  the last two hours every 10 s (bulk POSTs to /monitor/resources/), one of which
  stopped reporting 20 minutes ago (stale).

Then it takes the dashboard's pages (fleet, this host, the explorer, the fleet in
Chinese) and the API pages the README shows, with Debian's /usr/bin/chromium and
chromedriver driven by Selenium. The Chinese page needs a CJK font (Debian:
apt-get install fonts-noto-cjk).
"""

import argparse
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
WINDOW = (1400, 900)
AGENTS = {"agent-web-1": 35.0, "agent-web-2": 62.0, "agent-db-1": 18.0}
STALE_AGENT = "agent-db-1"


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def reachable(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((parts.hostname or "127.0.0.1", parts.port or 0)) == 0


def post(base: str, payload) -> dict:
    request = urllib.request.Request(
        f"{base}/monitor/resources/",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def agent_history(base: str, now: datetime) -> None:
    """Two hours of an agent's host metrics every 10 s, pushed through the API in bulk."""
    rng = random.Random(7)
    for host, level in AGENTS.items():
        end = now - timedelta(minutes=20) if host == STALE_AGENT else now
        samples = []
        for i in range(720):
            at = end - timedelta(seconds=10 * i)
            phase = i / 90
            cpu = max(1.0, min(99.0, level + 12 * math.sin(phase) + rng.uniform(-4, 4)))
            values = {
                "cpu.percent": cpu,
                "cpu.user_percent": cpu * 0.72,
                "cpu.system_percent": cpu * 0.23,
                "cpu.iowait_percent": cpu * 0.05,
                "cpu.count": 8,
                "load.1m": cpu / 12 + rng.uniform(0, 0.3),
                "load.5m": cpu / 12.5,
                "load.15m": cpu / 13,
                "memory.used_percent": 40 + level / 3 + 3 * math.sin(phase / 3),
                "memory.used_bytes": (40 + level / 3) / 100 * 32 * 2**30,
                "memory.available_bytes": (60 - level / 3) / 100 * 32 * 2**30,
                "disk.used_percent:/": 55 + level / 4 + i / 2000,
                "disk.used_percent:/data": 30 + level / 2,
                "net.rx_bytes_per_second:eth0": 2e6 * (1 + math.sin(phase * 2) ** 2) + rng.uniform(0, 2e5),
                "net.tx_bytes_per_second:eth0": 6e5 * (1 + math.cos(phase * 2) ** 2),
                "processes.total": 180 + rng.randint(0, 6),
            }
            stamp = at.isoformat().replace("+00:00", "Z")
            samples += [{"name": n, "value": v, "host": host, "timestamp": stamp} for n, v in values.items()]
        for start in range(0, len(samples), 5000):
            post(base, samples[start : start + 5000])
        print(f"  {host}: {len(samples)} samples through the API")


def collect_for(seconds: float) -> None:
    """Real collection cycles of this machine (and the servers configured), every METRICS_INTERVAL."""
    from django.core.management import call_command

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        call_command("collect", stdout=open(os.devnull, "w"))
        time.sleep(max(0.0, 2.0 - (time.monotonic() - started)))


def browser(language: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(arg)
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    options.add_argument(f"--lang={language}")
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))


def shot(driver, url: str, name: str, wait_charts: bool = True, height: int | None = None) -> None:
    driver.set_window_size(WINDOW[0], height or WINDOW[1])
    driver.get(url)
    deadline = time.monotonic() + 30
    while wait_charts and time.monotonic() < deadline:
        if driver.execute_script("return Number(document.body.dataset.loads || 0)") >= 1:
            break
        time.sleep(0.2)
    time.sleep(0.8)
    driver.save_screenshot(str(ASSETS / name))
    print(f"  assets/{name}  <- {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--minutes", type=float, default=4)
    parser.add_argument("--mysql", default="mysql://root@127.0.0.1:3306/")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if listening(args.port):
        raise SystemExit(f"port {args.port} is taken: stop what listens there or pass --port")
    if not subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip():
        print("warning: no Chinese font installed (apt-get install fonts-noto-cjk): the Chinese page shows boxes")
    var = Path(tempfile.mkdtemp(prefix="screenshots-"))
    env = {
        "VAR_DIR": str(var),
        "METRICS_INTERVAL": "2",
        # A host is stale after a minute without samples (the agents' history ends when the shots start).
        "HOST_STALE_AFTER": "60",
        "MONITOR_MYSQL_URLS": args.mysql if args.mysql and reachable(args.mysql) else "",
        "MONITOR_REDIS_URLS": args.redis if args.redis and reachable(args.redis) else "",
        "DJANGO_SETTINGS_MODULE": "db_django.settings",
    }
    os.environ.update(env)
    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_DEBUG", "API_REQUIRE_AUTH"):
        os.environ.pop(key, None)
    sys.path.insert(0, str(ROOT))
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], check=True, cwd=ROOT)
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{args.port}", "--noreload"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if listening(args.port):
                break
            time.sleep(0.2)
        base = f"http://127.0.0.1:{args.port}"
        import django

        django.setup()
        from django.conf import settings

        started = datetime.now(UTC)
        print(f"collecting this machine ({settings.MONITOR_HOSTNAME}) every 2 s for {args.minutes:g} min")
        collect_for(args.minutes * 60)
        print("loading agents' history through the API")
        agent_history(base, datetime.now(UTC))
        # The notes' example, as in their screenshot.
        row = post(base, {"name": "CPU Usage", "value": 75.5, "description": "Average CPU usage in percentage"})
        until = int(time.time())
        since = int(started.timestamp())
        host = settings.MONITOR_HOSTNAME
        english, chinese = browser("en-US,en"), browser("zh-CN,zh")
        try:
            print("screenshots")
            shot(english, f"{base}/", "DashboardFleet.png")
            shot(english, f"{base}/hosts/{host}/?from={since}&to={until}", "DashboardHost.png", height=1500)
            explore = "metric=cpu.percent&metric=memory.used_percent&range=1h&agg=max"
            shot(english, f"{base}/explore/?{explore}", "DashboardExplorer.png")
            shot(chinese, f"{base}/hosts/{host}/?from={since}&to={until}", "DashboardChinese.png")
            shot(english, f"{base}/monitor/resources/{row['id']}/", "PostResource.png", wait_charts=False)
            shot(english, f"{base}/monitor/resources/?page_size=8", "ResourceList.png", wait_charts=False)
            shot(english, f"{base}/monitor/resources/latest/?name_prefix=memory.", "Latest.png", wait_charts=False)
            shot(english, f"{base}/monitor/docs/", "SwaggerUI.png", wait_charts=False)
        finally:
            english.quit()
            chinese.quit()
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
