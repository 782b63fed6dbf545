"""The write rate holds under concurrency: counted atomically in the shared Redis cache.

Through gunicorn with several workers in production mode (DJANGO_DEBUG=0,
API_REQUIRE_AUTH, CACHE_URL on Redis), as the README deploys it: many threads
writing with one token at once must get at most API_WRITE_RATE writes accepted,
every accepted write stored and every refused one answered 429 with Retry-After.
DRF's own throttle reads the history, then writes it back: concurrent requests
read the same history and all pass (1,200 writes against 600/minute: 844 accepted).
"""

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from monitor.api.auth import issue_token
from monitor.models import Resource
from procs import child_env, closed_port, running, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.redis]

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
RATE = 100
THREADS, WRITES_PER_THREAD = 40, 8
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "x7Kp2mQv9Lr4Tz8Wc1Ny6Hb3Jd5Fs0Ga-uE_iO7pR2sT9vX4yZ1qW8eR5tY3uI6oP",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    # As behind the README's TLS proxy: it says https and appends the client's address.
    "DJANGO_BEHIND_TLS_PROXY": "1",
}


def send(base: str, key: str, n: int, host: str) -> tuple[int, str | None]:
    body = json.dumps({"name": "throttle.concurrency", "value": float(n), "host": host}).encode()
    request = urllib.request.Request(base + "/monitor/resources/", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Token {key}")
    request.add_header("X-Forwarded-Proto", "https")
    request.add_header("X-Forwarded-For", "203.0.113.7")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Retry-After")


def test_at_most_the_rate_is_accepted_from_many_threads_across_gunicorn_workers(redis_url, tmp_path):
    _, key = issue_token("concurrent agent", "write")
    port = closed_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    env = child_env(tmp_path, CACHE_URL=redis_url, API_WRITE_RATE=f"{RATE}/minute", **PRODUCTION)
    args = [GUNICORN, "db_django.wsgi", "-b", f"127.0.0.1:{port}", "-w", "4", "--timeout", "60"]
    with running(args, env, log) as web:

        def serving() -> bool:
            assert web.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                probe = urllib.request.Request(base + "/monitor/health/", headers={"X-Forwarded-Proto": "https"})
                urllib.request.urlopen(probe, timeout=5)
            except urllib.error.HTTPError:
                return True  # answered (503 without a broker or worker is fine here)
            except OSError:
                return False
            return True

        wait_for(serving, 60, "gunicorn to serve", log)
        results: list[tuple[int, str | None]] = []
        lock = threading.Lock()
        start = threading.Barrier(THREADS)

        def writer(t: int) -> None:
            start.wait()
            for i in range(WRITES_PER_THREAD):
                # A series of its own per thread: two threads' writes stamped with the same
                # microsecond by two workers would otherwise clash (409), which is not the point here.
                outcome = send(base, key, t * 1000 + i, f"concurrency-{t}")
                with lock:
                    results.append(outcome)

        began = time.monotonic()
        threads = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        took = time.monotonic() - began

    codes = [code for code, _ in results]
    accepted, refused = codes.count(201), codes.count(429)
    print(f"\n{len(codes)} writes from {THREADS} threads in {took:.1f}s: {accepted} accepted, {refused} refused")
    assert len(codes) == THREADS * WRITES_PER_THREAD
    assert accepted + refused == len(codes), sorted(set(codes))
    assert took < 60, "the burst outlasted the one-minute window; the count below would not mean much"
    # One window of the rate: exactly the rate is accepted, however the requests interleave.
    assert accepted == RATE
    assert Resource.objects.filter(name="throttle.concurrency").count() == accepted
    assert all(retry is not None and int(retry) > 0 for code, retry in results if code == 429)
