"""Beat evaluates the alert rules every ALERTS_EVALUATION_INTERVAL seconds; the task only calls evaluate()."""

import pytest

from db_django.celery import app as celery_app
from monitor.alerts.models import AlertRule
from monitor.collection.schedule import EVALUATE_ALERTS, beat_schedule
from samples import store


def test_the_schedule_has_an_evaluation_entry_that_expires_after_two_intervals():
    entry = beat_schedule(10, 10, None, 15)["evaluate-alert-rules"]
    assert entry == {"task": EVALUATE_ALERTS, "schedule": 15.0, "options": {"expires": 30.0}}
    assert "evaluate-alert-rules" not in beat_schedule(10)


def test_the_app_installs_it_at_the_configured_interval(settings):
    from django.conf import settings as live

    installed = celery_app.conf.beat_schedule["evaluate-alert-rules"]
    assert installed["schedule"] == float(live.ALERTS_EVALUATION_INTERVAL)
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscovery finds the task
    assert EVALUATE_ALERTS in celery_app.tasks


@pytest.mark.django_db
def test_the_task_evaluates_and_reports(settings):
    AlertRule.objects.all().delete()
    AlertRule.objects.create(name="disk_x", metric="disk.used_percent", warning=85)
    store("disk.used_percent:/", 90, "web-1")
    from monitor.alerts.tasks import evaluate_rules

    report = evaluate_rules.apply().get()
    assert report["events"] == 1 and report["transitions"] == [("disk_x", "web-1", "ok", "warning")]
