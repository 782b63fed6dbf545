"""GET /monitor/application/: the notes' keys, real task counts, bounded time."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from db_django.celery import app as celery_app
from procs import broker_at, child_env, closed_port, frozen_server, running, wait_for, worker_args

URL = "/monitor/application/"
NOTES_KEYS = {"active_sessions", "active_users", "total_users", "active_tasks", "scheduled_tasks", "reserved_tasks"}
BUDGET = 1.5


def timed_get(client):
    started = time.monotonic()
    response = client.get(URL)
    return response, time.monotonic() - started


@pytest.mark.django_db
def test_it_counts_sessions_and_users(client):
    User.objects.create_user("recent", last_login=timezone.now() - timedelta(minutes=5))
    User.objects.create_user("stale", last_login=timezone.now() - timedelta(hours=2))
    User.objects.create_user("never")
    client.force_login(User.objects.get(username="stale"))  # a live session; login refreshes last_login
    body = client.get(URL).json()
    assert NOTES_KEYS <= set(body)
    assert body["total_users"] == 3
    assert body["active_users"] == 2
    assert body["active_sessions"] == 1


@pytest.mark.django_db
def test_it_answers_in_time_with_state_unreachable_when_the_broker_refuses_connections(client):
    with broker_at(f"redis://127.0.0.1:{closed_port()}/0"):
        response, elapsed = timed_get(client)
    assert response.status_code == 200
    assert elapsed < BUDGET
    body = response.json()
    assert NOTES_KEYS <= set(body)
    assert body["broker"]["state"] in {"unreachable", "timeout"}
    assert body["workers_online"] == 0 and body["active_tasks"] == 0


@pytest.mark.django_db
def test_it_answers_in_time_when_the_broker_accepts_but_never_answers(client):
    with frozen_server() as port, broker_at(f"redis://127.0.0.1:{port}/0"):
        response, elapsed = timed_get(client)
    assert response.status_code == 200
    assert elapsed < BUDGET
    assert response.json()["broker"]["state"] in {"unreachable", "timeout"}


@pytest.mark.django_db
@pytest.mark.redis
def test_it_answers_in_time_with_no_worker_running(client, redis_url):
    with broker_at(redis_url):
        response, elapsed = timed_get(client)
    assert elapsed < BUDGET
    body = response.json()
    assert body["broker"]["state"] == "ok"
    assert body["workers_online"] == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
@pytest.mark.slow
def test_it_counts_real_scheduled_tasks_on_a_real_worker(client, redis_url, tmp_path):
    log = tmp_path / "worker.log"
    env = child_env(tmp_path, CELERY_BROKER_URL=redis_url)
    with broker_at(redis_url), running(worker_args("status@testhost"), env, log):
        wait_for(lambda: client.get(URL).json()["workers_online"] == 1, 30, "the worker to answer", log)
        from monitor.collection.tasks import collect_host_metrics

        with celery_app.connection_for_write() as conn:
            for _ in range(2):  # ETA tasks wait in the worker: "scheduled"
                collect_host_metrics.apply_async(countdown=600, connection=conn)
        body = wait_for(
            lambda: (b := client.get(URL).json())["scheduled_tasks"] == 2 and b, 15, "two scheduled tasks", log
        )
        assert body["workers"] == ["status@testhost"]
        assert body["broker"]["state"] == "ok"
        _, elapsed = timed_get(client)
        assert elapsed < BUDGET
