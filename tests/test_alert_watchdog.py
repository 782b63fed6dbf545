"""With no worker reporting, beat evaluates the alert rules and sends notifications itself.

Outside testing stopped the only worker: for as long as it was down nothing was
evaluated, and `host_not_reporting` fired only after it came back; `celery_no_worker`
could never fire, since a worker counts itself. These tests drive beat's scheduler
as beat does (apply_entry on a due entry) and look at what it did.
"""

import threading
import time
from datetime import timedelta

import pytest
from celery.beat import ScheduleEntry
from django.utils import timezone

from alert_receivers import only_our_rules, shipped_rule
from db_django.celery import app
from monitor.alerts import watchdog
from monitor.alerts.models import Alert
from monitor.collection.beat import Scheduler
from monitor.collection.collectors import Sample as Collected
from monitor.collection.schedule import COLLECT_HOST, EVALUATE_ALERTS
from monitor.models import Rollup, Series
from monitor.storage.inserts import resource_bulk_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scheduler(tmp_path, monkeypatch) -> Scheduler:
    """Beat's scheduler, recording what it would have sent to the broker instead of sending it."""
    sent: list[str] = []
    beat = Scheduler(app=app, schedule_filename=str(tmp_path / "schedule"), lazy=True)
    monkeypatch.setattr(Scheduler.__mro__[1], "apply_entry", lambda self, entry, producer=None: sent.append(entry.task))
    beat.sent = sent
    return beat


def due(task: str) -> ScheduleEntry:
    return ScheduleEntry(name=task, task=task, schedule=timedelta(seconds=10), app=app)


def wait_for_watchdog() -> None:
    deadline = time.monotonic() + 20
    while watchdog._running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not watchdog._running
    assert not [t for t in threading.enumerate() if t.name.startswith("watchdog ")]


def test_with_no_worker_beat_evaluates_the_rules_itself_and_reports_no_worker(scheduler):
    only_our_rules()
    shipped_rule("host_not_reporting")
    shipped_rule("celery_no_worker")
    then = timezone.now() - timedelta(minutes=10)  # the worker's last cycle, long ago
    resource_bulk_create([Collected("cpu.count", 2.0)], host="web-1", timestamp=then, cycle_id="last")
    assert not watchdog.workers_reporting()

    scheduler.apply_entry(due(EVALUATE_ALERTS))
    wait_for_watchdog()
    assert scheduler.sent == []
    not_reporting = Alert.objects.get(rule__name="host_not_reporting", host="web-1")
    assert not_reporting.evaluated_at is not None
    assert not_reporting.state != "ok"
    series = Series.objects.get(name="celery.workers_online", host="")
    assert Rollup.objects.get(series=series, step=Rollup.LATEST).last == 0.0


def test_while_a_worker_reports_beat_sends_the_tasks_as_usual(scheduler):
    resource_bulk_create([Collected("cpu.count", 2.0)], host="web-1", cycle_id="now")
    assert watchdog.workers_reporting()
    scheduler.apply_entry(due(EVALUATE_ALERTS))
    scheduler.apply_entry(due(COLLECT_HOST))
    assert scheduler.sent == [EVALUATE_ALERTS, COLLECT_HOST]
    assert not Series.objects.filter(name="celery.workers_online").exists()


def test_collection_is_sent_to_the_broker_even_with_no_worker(scheduler):
    scheduler.apply_entry(due(COLLECT_HOST))
    assert scheduler.sent == [COLLECT_HOST]
