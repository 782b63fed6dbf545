"""The Celery application, configured from Django settings (namespace CELERY)."""

import os

from celery import Celery
from celery.app.utils import Settings

from . import kombu_patches

# Fixes to kombu's Redis transport (each with its upstream report in docs/upstream/). Refuses to
# start on a kombu they were not written for, naming it, unless ALLOW_UNTESTED_KOMBU=1.
kombu_patches.apply()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "db_django.settings")

# Every task counts its failures where remote control can read them (monitor/collection/worker_control.py).
app = Celery("db_django", task_cls="monitor.collection.worker_control:CountedTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["monitor.collection", "monitor.alerts"])
app.autodiscover_tasks(["monitor.alerts"], related_name="delivery_tasks")


@app.on_after_configure.connect
def install_beat_schedule(sender: Celery, source: Settings, **kwargs) -> None:
    """The app's periodic schedule (monitor/collection/schedule.py), at the intervals the settings choose."""
    from django.conf import settings

    from monitor.collection.schedule import beat_schedule

    scrape = settings.SCRAPE_INTERVAL if settings.SCRAPE_TARGETS else None
    source.beat_schedule = beat_schedule(
        settings.METRICS_INTERVAL,
        settings.SERVER_METRICS_INTERVAL,
        scrape,
        settings.ALERTS_EVALUATION_INTERVAL,
        notify_interval_seconds=settings.ALERTS_NOTIFY_INTERVAL,
        fold_interval_seconds=settings.ROLLUP_FOLD_INTERVAL,
        host_broadcast=not settings.MONITOR_HOST_TIMER,
    )


@app.task(bind=True, ignore_result=True)
def debug_task(self) -> None:
    """The notes' smoke-test task: prints the request it ran with."""
    print(f"Request: {self.request!r}")
