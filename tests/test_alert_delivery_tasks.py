"""The delivery tasks: on beat's schedule, and the outbox keeps its history for ALERTS_OUTBOX_KEEP_DAYS."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.alerts.models import Channel, Notification
from monitor.alerts.outbox import prune_outbox
from monitor.collection.schedule import PLAN_NOTIFICATIONS, SEND_NOTIFICATIONS, beat_schedule


def test_beat_plans_and_sends_every_notify_interval():
    schedule = beat_schedule(10, notify_interval_seconds=7)
    entries = {entry["task"]: entry for entry in schedule.values()}
    assert entries[PLAN_NOTIFICATIONS]["schedule"] == 7.0
    assert entries[SEND_NOTIFICATIONS]["schedule"] == 7.0
    assert entries[PLAN_NOTIFICATIONS]["options"]["expires"] == 21.0


def test_the_tasks_are_registered_under_their_schedule_names():
    from db_django.celery import app

    app.loader.import_default_modules()
    assert {PLAN_NOTIFICATIONS, SEND_NOTIFICATIONS} <= set(app.tasks)


@pytest.mark.django_db
def test_old_sent_and_failed_messages_are_pruned_pending_ones_never(settings):
    settings.ALERTS_OUTBOX_KEEP_DAYS = 30
    channel = Channel.objects.create(name="ops", kind="webhook", target="http://127.0.0.1:9/")
    old = timezone.now() - timedelta(days=31)
    for n, status in enumerate(["sent", "failed", "pending", "sending"]):
        Notification.objects.create(
            channel=channel, group_key="g", dedup_key=f"old-{n}", payload={}, status=status, next_attempt_at=old
        )
    Notification.objects.create(channel=channel, group_key="g", dedup_key="new", payload={}, status="sent")
    assert prune_outbox() == 2
    assert sorted(Notification.objects.values_list("dedup_key", flat=True)) == ["new", "old-2", "old-3"]
