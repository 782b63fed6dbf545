"""The Celery application, configured from Django settings (namespace CELERY)."""

import os

from celery import Celery

from . import kombu_patches

kombu_patches.apply()  # see the module: two Redis-outage bugs in kombu 5.7

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "db_django.settings")

# Every task counts its failures where remote control can read them (monitor/worker_control.py).
app = Celery("db_django", task_cls="monitor.worker_control:CountedTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(bind=True, ignore_result=True)
def debug_task(self) -> None:
    """The notes' smoke-test task: prints the request it ran with."""
    print(f"Request: {self.request!r}")
