"""GET /monitor/application/: the notes' keys, real task counts, from the workers' latest report in
milliseconds, and in bounded time when it must ask them."""

import statistics
import time
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from db_django.celery import app as celery_app
from monitor.models import QueueReport
from procs import broker_at, child_env, closed_port, frozen_server, running, wait_for, worker_args

URL = "/monitor/application/"
NOTES_KEYS = {"active_sessions", "active_users", "total_users", "active_tasks", "scheduled_tasks", "reserved_tasks"}
STATUS_KEYS = NOTES_KEYS | {
    "workers_online",
    "workers",
    "broker",
    "reported_at",
    "age_seconds",
    "alerts",
    "notifications",
}
BUDGET = 1.5
TYPICAL = 0.050  # what a request answered from the report may take


def timed_get(client, url=URL):
    started = time.monotonic()
    response = client.get(url)
    return response, time.monotonic() - started


def reported(seconds_ago: float, workers: dict | None = None) -> datetime:
    """A queue report as a worker's server-status cycle stores it, `seconds_ago` old."""
    at = timezone.now() - timedelta(seconds=seconds_ago)
    workers = {"w1@host": {"active": 2, "reserved": 1, "scheduled": 0}} if workers is None else workers
    QueueReport.objects.record(at, workers, {"state": "ok", "latency_ms": 7})
    return at


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


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
    assert body["broker"]["state"] == "unreachable"
    assert "Connection refused" in body["broker"]["error"]
    assert body["workers_online"] == 0 and body["active_tasks"] == 0


@pytest.mark.django_db
def test_it_answers_in_time_when_the_broker_accepts_but_never_answers(client):
    with frozen_server() as port, broker_at(f"redis://127.0.0.1:{port}/0"):
        response, elapsed = timed_get(client)
    assert response.status_code == 200
    assert elapsed < BUDGET
    assert response.json()["broker"]["state"] == "timeout"


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


# --- from the workers' latest report ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_recent_report_is_answered_in_milliseconds_with_its_age(client, settings):
    settings.STATUS_REPORT_MAX_AGE = 20
    at = reported(seconds_ago=3)
    timings = []
    for _ in range(10):
        response, elapsed = timed_get(client)
        timings.append(elapsed)
    body = response.json()
    assert set(body) == STATUS_KEYS
    assert (body["active_tasks"], body["reserved_tasks"], body["scheduled_tasks"]) == (2, 1, 0)
    assert body["workers"] == ["w1@host"] and body["workers_online"] == 1
    assert body["broker"] == {"state": "ok", "latency_ms": 7}
    assert parse(body["reported_at"]) == at
    assert 3 <= body["age_seconds"] < 3 + sum(timings) + 1
    assert statistics.median(timings) < TYPICAL, timings


@pytest.mark.django_db
def test_a_stale_report_is_not_used_the_workers_are_asked_within_the_budget(client, settings):
    settings.STATUS_REPORT_MAX_AGE = 20
    reported(seconds_ago=21)
    with broker_at(f"redis://127.0.0.1:{closed_port()}/0"):
        response, elapsed = timed_get(client)
    body = response.json()
    assert elapsed < BUDGET
    assert body["broker"]["state"] == "unreachable" and body["workers"] == []
    assert body["age_seconds"] < 1  # asked now, not read


@pytest.mark.django_db
def test_a_frozen_broker_with_a_fresh_report_costs_nothing_and_with_fresh_1_stays_bounded(client, settings):
    settings.STATUS_REPORT_MAX_AGE = 20
    reported(seconds_ago=1)
    with frozen_server() as port, broker_at(f"redis://127.0.0.1:{port}/0"):
        from_report, quick = timed_get(client)
        asked, bounded = timed_get(client, URL + "?fresh=1")
    assert from_report.json()["workers"] == ["w1@host"] and quick < BUDGET / 3
    assert asked.json()["broker"]["state"] == "timeout" and asked.json()["workers"] == []
    assert bounded < BUDGET


@pytest.mark.django_db
def test_a_report_of_a_broker_the_worker_could_not_reach_says_so(client, settings):
    settings.STATUS_REPORT_MAX_AGE = 20
    at = timezone.now()
    QueueReport.objects.record(at, {}, {"state": "timeout", "error": "DeadlineExceeded: no answer within 1.0s"})
    body = client.get(URL).json()
    assert body["broker"]["state"] == "timeout" and body["workers_online"] == 0


@pytest.mark.django_db
def test_status_report_max_age_0_always_asks(client, settings):
    settings.STATUS_REPORT_MAX_AGE = 0
    reported(seconds_ago=0)
    with broker_at(f"redis://127.0.0.1:{closed_port()}/0"):
        body = client.get(URL).json()
    assert body["broker"]["state"] == "unreachable"


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_fresh_that_is_not_a_boolean_gets_400_naming_it(client, value):
    response = client.get(f"{URL}?fresh={value}")
    assert response.status_code == 400
    assert response.json() == {"fresh": ["Must be a valid boolean."]}


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
@pytest.mark.slow
def test_a_real_workers_cycle_is_answered_from_its_report_then_asked_again_once_stale(client, redis_url, tmp_path):
    from monitor.collection.tasks import collect_server_status

    log = tmp_path / "worker.log"
    env = child_env(tmp_path, CELERY_BROKER_URL=redis_url, MONITOR_MYSQL_URLS="", MONITOR_REDIS_URLS="")
    with broker_at(redis_url), running(worker_args("report@testhost"), env, log):
        wait_for(lambda: client.get(URL + "?fresh=1").json()["workers_online"] == 1, 30, "the worker to answer", log)
        assert not QueueReport.objects.exists()
        with celery_app.connection_for_write() as conn:
            collect_server_status.apply_async(connection=conn)
        wait_for(QueueReport.objects.exists, 30, "the worker's server-status cycle to store its report", log)

        timings = []
        for _ in range(20):
            response, elapsed = timed_get(client)
            timings.append(elapsed)
        body = response.json()
        print(f"\nfrom the report: median {statistics.median(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms")
        assert statistics.median(timings) < TYPICAL, timings
        assert body["workers"] == ["report@testhost"] and body["workers_online"] == 1
        # The cycle that asked was the worker's one active task: not counted.
        assert body["active_tasks"] == body["reserved_tasks"] == body["scheduled_tasks"] == 0
        assert body["broker"]["state"] == "ok" and body["broker"]["latency_ms"] < 1000
        stored = QueueReport.objects.get()
        assert parse(body["reported_at"]) == stored.reported_at
        assert 0 <= body["age_seconds"] < 30

        # Stale (older than STATUS_REPORT_MAX_AGE): the worker is asked again, within the budget.
        QueueReport.objects.update(reported_at=timezone.now() - timedelta(hours=1))
        response, elapsed = timed_get(client)
        body = response.json()
        assert elapsed < BUDGET
        assert body["workers"] == ["report@testhost"] and body["age_seconds"] < BUDGET


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
@pytest.mark.slow
def test_a_threads_pool_worker_reports_itself_online_in_every_cycle(redis_url, tmp_path):
    """The README's production worker (threads pool) runs the probe beside the loop that answers it.

    Over Redis, with the cycle's host broadcast arriving beside the probe, its
    answer to itself came after the window every other cycle, and the report
    alternated between one worker and none.
    """
    from monitor.collection.schedule import COLLECTION_TASKS

    log = tmp_path / "worker.log"
    env = child_env(tmp_path, CELERY_BROKER_URL=redis_url, MONITOR_MYSQL_URLS="", MONITOR_REDIS_URLS="")
    args = worker_args("threads@testhost", "--pool", "threads", "--without-heartbeat")
    args[args.index("--concurrency") + 1] = "2"  # as the README starts it
    reports: list[tuple] = []  # (reported_at, workers) of each cycle

    def next_report() -> bool:
        report = QueueReport.objects.filter(pk=QueueReport.ONLY).first()
        if report is None or (reports and report.reported_at == reports[-1][0]):
            return False
        reports.append((report.reported_at, sorted(report.workers)))
        return True

    with broker_at(redis_url), running(args, env, log):
        for cycle in range(6):
            time.sleep(3)  # cycles apart, as beat sends them
            with celery_app.connection_for_write() as conn:  # a whole cycle: the host broadcast too
                for task in COLLECTION_TASKS:
                    celery_app.send_task(task, connection=conn)
            wait_for(next_report, 30, f"server-status cycle {cycle + 1} to store its report", log)
    assert [workers for _at, workers in reports] == [["threads@testhost"]] * 6
