"""The shared cache (CACHE_URL=redis://...) stops or freezes: the API serves on.

Production keeps its throttle counters in Redis. When that Redis is gone
(connections refused) or frozen (SIGSTOP: the kernel accepts, nothing answers),
writes must still be stored, "collect now" must answer 503 at once, admin logins
(and their lockouts) must work, and no request may wait longer than the cache's
socket timeout. The Redis is a private
one (tests/servers.py) on a spare port, used as CACHE_URL (db 1) and, for
collect, as the broker (db 0), as the README's production block does.
"""

import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from db_django.env import cache_from_url
from monitor.api import throttling
from monitor.api.auth import issue_token
from monitor.api.throttling import TokenWriteThrottle
from monitor.models import Resource
from procs import broker_at
from servers import RedisServer, private_redis, timed

pytestmark = [pytest.mark.django_db, pytest.mark.redis]

CACHE_TIMEOUT = cache_from_url("redis://x")["OPTIONS"]["socket_timeout"]  # 0.5 s
SLACK = 0.4  # a loaded two-core machine
URL = "/monitor/resources/"
FAULTS = {"stopped": RedisServer.stop, "frozen": RedisServer.freeze}


@pytest.fixture
def redis(tmp_path) -> Iterator[RedisServer]:
    with private_redis(tmp_path) as server:
        yield server


@pytest.fixture
def production(settings, redis) -> str:
    """API_REQUIRE_AUTH with CACHE_URL on the private Redis; returns a read-write key."""
    settings.API_REQUIRE_AUTH = True
    settings.API_PUBLIC_READS = False
    settings.CACHES = {"default": cache_from_url(redis.url(1))}
    return issue_token("agent", "write")[1]


def post(client, key: str, value: float = 1.0):
    body = {"name": "cache.outage", "value": value}
    return client.post(URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {key}")


@pytest.mark.parametrize("fault", FAULTS)
def test_writes_are_stored_while_the_cache_is_down_and_only_one_request_waits(fault, client, redis, production):
    assert post(client, production).status_code == 201  # counted in Redis
    FAULTS[fault](redis)
    answers = [timed(lambda n=n: post(client, production, float(n))) for n in range(6)]
    assert [response.status_code for response, _ in answers] == [201] * 6
    assert Resource.objects.count() == 7
    took = sorted(seconds for _, seconds in answers)
    # The first request after the failure pays at most the socket timeout; the
    # next ones do not ask the dead cache again (it is retried every few seconds).
    assert took[-1] < CACHE_TIMEOUT + SLACK, took
    assert took[-2] < 0.3, took


@pytest.mark.parametrize("fault", FAULTS)
def test_reads_and_token_checks_go_on_while_the_cache_is_down(fault, client, redis, production):
    FAULTS[fault](redis)
    (response, took) = timed(lambda: client.get(URL, HTTP_AUTHORIZATION=f"Token {production}"))
    assert response.status_code == 200 and took < CACHE_TIMEOUT + SLACK
    # Failed token checks are counted in the cache too (per address): refused as usual.
    (response, took) = timed(lambda: client.get(URL, HTTP_AUTHORIZATION="Token dbm_wrong"))
    assert response.status_code == 401 and took < CACHE_TIMEOUT + SLACK


def test_the_write_rate_still_holds_per_process_while_the_cache_is_down(client, redis, production, monkeypatch):
    monkeypatch.setattr(TokenWriteThrottle, "rate", "3/minute", raising=False)
    assert post(client, production).status_code == 201
    redis.stop()
    codes = [post(client, production).status_code for _ in range(4)]
    # The local counter starts afresh with the outage: three more, then 429.
    assert codes == [201, 201, 201, 429]
    refused = post(client, production)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0


@pytest.mark.parametrize("fault", FAULTS)
def test_collect_answers_503_fast_while_redis_is_down(fault, client, redis, production, settings):
    with broker_at(redis.url(0)):
        FAULTS[fault](redis)
        first, first_took = timed(lambda: client.post("/monitor/collect/", HTTP_AUTHORIZATION=f"Token {production}"))
        again, again_took = timed(lambda: client.post("/monitor/collect/", HTTP_AUTHORIZATION=f"Token {production}"))
    for response in (first, again):
        assert response.status_code == 503, response.content
        assert "Broker unavailable" in response.json()["detail"]
    # At most one cache timeout, then the broker's own budget; the next one skips the cache.
    assert first_took < CACHE_TIMEOUT + settings.STATUS_TIMEOUT + SLACK
    assert again_took < settings.STATUS_TIMEOUT + SLACK


def test_an_outage_is_logged_once_and_the_cache_is_used_again_when_it_is_back(
    client, redis, production, caplog, monkeypatch
):
    monkeypatch.setattr(throttling, "CACHE_RETRY_SECONDS", 0.2)
    redis.stop()
    with caplog.at_level(logging.INFO, logger="monitor.api.throttling"):
        for n in range(10):
            assert post(client, production, float(n)).status_code == 201
            time.sleep(0.05)  # the cache is retried (and fails) several times meanwhile
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
        assert "cache" in warnings[0].getMessage()
        redis.start()
        time.sleep(0.3)
        assert post(client, production).status_code == 201
        assert any("answers again" in r.getMessage() for r in caplog.records)
    # Counted in Redis again.
    assert any(b"throttle" in k for k in redis_keys(redis))


def redis_keys(server: RedisServer) -> list[bytes]:
    import redis

    return redis.Redis.from_url(server.url(1), socket_timeout=2).keys("*")


def test_admin_logins_and_lockouts_do_not_need_the_cache(client, redis, production, settings):
    User.objects.create_superuser("admin", password="right-horse-battery")
    redis.stop()
    form = {"username": "admin", "password": "right-horse-battery", "next": "/admin/"}
    assert client.post("/admin/login/", form).status_code == 302
    client.logout()
    wrong = {**form, "password": "wrong"}
    codes = [client.post("/admin/login/", wrong).status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert codes[-1] == 429
    assert client.post("/admin/login/", form).status_code == 429


# --- the socket timeouts themselves ------------------------------------------------------------


@contextmanager
def refusing_handshakes() -> Iterator[int]:
    """A port whose accept queue is full: the kernel drops new SYNs, so connect() itself times out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        filler = socket.create_connection(("127.0.0.1", port), timeout=1)
        try:
            yield port
        finally:
            filler.close()


def test_a_frozen_cache_costs_one_read_timeout_and_django_does_not_retry(redis, settings):
    settings.CACHES = {"default": cache_from_url(redis.url(1))}
    cache.set("probe", 1)
    redis.freeze()
    for call in (lambda: cache.get("probe"), lambda: cache.set("probe", 2)):
        started = time.monotonic()
        with pytest.raises(Exception) as raised:
            call()
        took = time.monotonic() - started
        assert "Timeout" in type(raised.value).__name__, raised.value
        assert CACHE_TIMEOUT - 0.05 < took < CACHE_TIMEOUT + SLACK, took


def test_a_cache_that_never_completes_the_tcp_handshake_costs_one_connect_timeout(settings):
    with refusing_handshakes() as port:
        settings.CACHES = {"default": cache_from_url(f"redis://127.0.0.1:{port}/1")}
        started = time.monotonic()
        with pytest.raises(Exception) as raised:
            cache.get("probe")
        took = time.monotonic() - started
    assert "Timeout" in type(raised.value).__name__, raised.value
    assert took < CACHE_TIMEOUT + SLACK, took
