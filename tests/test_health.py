"""/monitor/health/: 200 with every dependency's state, 503 naming the failed one, within 1.5 s."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.models import Host
from procs import broker_at, closed_port, frozen_server

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/monitor/health/"


def timed(client, url=URL):
    started = time.monotonic()
    response = client.get(url)
    return response, time.monotonic() - started


@pytest.fixture
def fresh_worker():
    Host.objects.create(name="worker-host", last_seen=timezone.now())


@pytest.mark.redis
def test_it_is_200_when_everything_is_up(client, fresh_worker, redis_url):
    with broker_at(redis_url):
        response, elapsed = timed(client)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert {name: c["state"] for name, c in body["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "workers": "ok",
    }
    assert elapsed < 1.5


def test_it_is_503_naming_the_broker_when_it_refuses(client, fresh_worker):
    with broker_at(f"redis://127.0.0.1:{closed_port()}/0"):
        response, elapsed = timed(client)
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert elapsed < 1.5


def test_it_is_503_within_budget_when_the_broker_is_frozen(client, fresh_worker):
    with frozen_server() as port, broker_at(f"redis://127.0.0.1:{port}/0"):
        response, elapsed = timed(client)
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert elapsed < 1.5


@pytest.mark.redis
def test_it_is_503_naming_the_workers_when_none_reported_recently(client, redis_url):
    Host.objects.create(name="gone", last_seen=timezone.now() - timedelta(hours=1))
    with broker_at(redis_url):
        response, _ = timed(client)
    assert response.status_code == 503
    assert response.json()["failed"] == ["workers"]


@pytest.mark.redis
def test_it_needs_no_token_in_production(client, fresh_worker, redis_url, settings):
    settings.API_REQUIRE_AUTH = True
    with broker_at(redis_url):
        assert client.get(URL).status_code == 200


def test_collect_now_fails_fast_with_503_when_the_broker_is_frozen(client):
    with frozen_server() as port, broker_at(f"redis://127.0.0.1:{port}/0"):
        started = time.monotonic()
        response = client.post("/monitor/collect/")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "Broker unavailable" in response.json()["detail"]
    assert elapsed < 1.5


@pytest.mark.redis
def test_collect_now_queues_a_cycle(client, redis_url):
    with broker_at(redis_url):
        response = client.post("/monitor/collect/")
    assert response.status_code == 202
    assert len(response.json()["queued"]) == 2
