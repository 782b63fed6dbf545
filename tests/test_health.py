"""/monitor/health/: 200 with every dependency's state, 503 naming the failed one, within 1.5 s.

Anonymous clients (load balancers) get only the names of what failed; a token of
any scope or a staff session gets the details. See also test_faults_database.py
for health against a frozen and a read-only MariaDB behind real gunicorn.
"""

import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from monitor.api.auth import issue_token
from monitor.models import CollectionCycle, Host
from procs import broker_at, child_env, closed_port, frozen_server, running, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/monitor/health/"


def timed(client, url=URL, **headers):
    started = time.monotonic()
    response = client.get(url, **headers)
    return response, time.monotonic() - started


def token(scope: str = "read") -> dict:
    return {"HTTP_AUTHORIZATION": f"Token {issue_token('health reader', scope)[1]}"}


@pytest.fixture
def fresh_worker():
    """A worker that just stored a collection cycle, as a real one leaves it: its host and its cycle marker."""
    Host.objects.create(name="worker-host", last_seen=timezone.now())
    CollectionCycle.objects.create(task_id="cycle-1", host="worker-host", stored_at=timezone.now())


@pytest.mark.redis
def test_it_is_200_when_everything_is_up(client, fresh_worker, redis_url):
    with broker_at(redis_url):
        response, elapsed = timed(client, **token())
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok" and body["failed"] == [] and body["warnings"] == []
    assert {name: c["state"] for name, c in body["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "workers": "ok",
        "alerts": "ok",
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


# --- Who sees what ------------------------------------------------------------------------


def test_anonymous_clients_get_only_the_names_of_what_failed(client, fresh_worker):
    port = closed_port()
    with broker_at(f"redis://127.0.0.1:{port}/0"):
        response, elapsed = timed(client)
    assert response.status_code == 503
    assert response.json() == {"status": "fail", "failed": ["broker"], "warnings": []}
    assert str(port).encode() not in response.content and b"127.0.0.1" not in response.content
    assert elapsed < 1.5


@pytest.mark.parametrize("scope", ["read", "write"])
def test_a_token_of_any_scope_sees_errors_hosts_and_latencies(client, fresh_worker, scope):
    port = closed_port()
    with broker_at(f"redis://127.0.0.1:{port}/0"):
        response, elapsed = timed(client, **token(scope))
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["state"] == "down" and str(port) in checks["broker"]["error"]
    assert checks["workers"]["hosts_reporting"] == 1 and "latency_ms" in checks["database"]
    assert elapsed < 1.5


def test_a_staff_session_sees_the_details_and_another_session_does_not(client, fresh_worker):
    with broker_at(f"redis://127.0.0.1:{closed_port()}/0"):
        client.force_login(User.objects.create_user("viewer"))
        assert "checks" not in client.get(URL).json()
        client.force_login(User.objects.create_user("operator", is_staff=True))
        assert client.get(URL).json()["checks"]["broker"]["state"] == "down"


def test_a_bad_token_gets_the_anonymous_answer_not_a_401(client, fresh_worker):
    with broker_at(f"redis://127.0.0.1:{closed_port()}/0"):
        response = client.get(URL, HTTP_AUTHORIZATION="Token dbm_not-a-key")
    assert response.status_code == 503
    assert response.json() == {"status": "fail", "failed": ["broker"], "warnings": []}


@pytest.mark.redis
def test_hosts_that_push_samples_do_not_count_as_workers(client, redis_url):
    # An agent posting through the API keeps its host fresh, but no worker collects: health says so.
    client.post(
        "/monitor/resources/", {"name": "cpu.percent", "value": 5, "host": "agent-1"}, content_type="application/json"
    )
    CollectionCycle.objects.create(task_id="old", host="worker-host", stored_at=timezone.now() - timedelta(hours=1))
    with broker_at(redis_url):
        response = client.get(URL, **token())
    assert response.status_code == 503
    workers = response.json()["checks"]["workers"]
    assert workers["state"] == "down" and "collection cycle" in workers["error"]
    assert workers["workers_reporting"] == 0 and workers["worker_hosts"] == []
    assert workers["hosts_reporting"] == 1 and workers["stale_hosts"] == []


# --- Stale hosts --------------------------------------------------------------------------


@pytest.mark.redis
def test_a_stale_host_is_a_warning_listed_for_authenticated_clients(client, fresh_worker, redis_url, settings):
    settings.HOST_STALE_AFTER = 30
    Host.objects.create(name="gone", last_seen=timezone.now() - timedelta(minutes=5))
    with broker_at(redis_url):
        anonymous = client.get(URL)
        detailed = client.get(URL, **token())
    assert anonymous.status_code == 200
    assert anonymous.json() == {"status": "warn", "failed": [], "warnings": ["workers"]}
    workers = detailed.json()["checks"]["workers"]
    assert workers["state"] == "warn" and workers["hosts_reporting"] == 1
    assert [h["name"] for h in workers["stale_hosts"]] == ["gone"]
    assert workers["stale_hosts"][0]["seconds_since_last_seen"] >= 300


# --- Plain HTTP for load balancers, in production mode ----------------------------------------

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "health-plain-http-7Kp2mQv9Lr4Tz8Wc1Ny6Hb3Jd5Fs0Ga-uE_iO7pR2sT9vX4",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 301 itself is the answer under test


@pytest.mark.slow
def test_health_answers_over_plain_http_in_production_while_the_api_redirects_to_https(tmp_path, fresh_worker):
    port = closed_port()
    opener = urllib.request.build_opener(NoRedirect)

    def get(path: str) -> tuple[int, dict]:
        try:
            with opener.open(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
                return response.status, dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers)

    env = child_env(tmp_path, **PRODUCTION)
    with running([GUNICORN, "db_django.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"], env, tmp_path / "web.log") as web:

        def serving() -> bool:
            assert web.poll() is None, (tmp_path / "web.log").read_text()[-3000:]
            try:
                return get("/monitor/")[0] == 301
            except OSError:
                return False

        wait_for(serving, 60, "gunicorn to serve", tmp_path / "web.log")
        status, _ = get("/monitor/health/")
        assert status in (200, 503)  # an answer (the broker may be anything here), not a redirect
        status, headers = get("/monitor/resources/")
        assert status == 301 and headers["Location"] == f"https://127.0.0.1:{port}/monitor/resources/"


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
