"""Celery tasks: run a collector, store its samples in one bulk insert.

Trackers live for the life of the worker process: they hold the previous
counter readings that per-second rates are computed from.
"""

import logging

from celery import shared_task
from django.conf import settings

from db_django.celery import app as celery_app
from monitor.storage.inserts import resource_bulk_create

from .collectors import RateTracker, Sample
from .collectors.host import collect_host
from .collectors.mysql import collect_mysql
from .collectors.redis import collect_redis
from .queue_probe import QueueProbe
from .worker_control import task_counts  # noqa: F401  (registers the command in every worker)

logger = logging.getLogger(__name__)

_host_tracker = RateTracker()
_server_tracker = RateTracker()
_queue_probe = QueueProbe(celery_app)


def collect_host_once() -> list[Sample]:
    return collect_host(_host_tracker)


def collect_servers_once() -> list[Sample]:
    """MySQL, Redis and task-queue status; a server that is down yields `up = 0`.

    Each source fails on its own: the others' samples are still returned.
    """
    timeout = settings.MONITOR_COLLECT_TIMEOUT
    samples: list[Sample] = []
    for url in settings.MONITOR_MYSQL_URLS:
        samples += collect_mysql(url, _server_tracker, timeout=timeout)
    for url in settings.MONITOR_REDIS_URLS:
        samples += collect_redis(url, _server_tracker, timeout=timeout)
    samples += _queue_probe.collect(_server_tracker, timeout)
    return samples


@shared_task(bind=True, ignore_result=True)
def collect_host_metrics(self) -> int:
    """Sample this machine and store the cycle; returns the number of rows.

    Routed to a broadcast queue (settings.CELERY_TASK_ROUTES): every worker
    gets each cycle and samples its own host.
    """
    return resource_bulk_create(collect_host_once(), host=settings.MONITOR_HOSTNAME, cycle_id=self.request.id)


@shared_task(bind=True, ignore_result=True)
def collect_server_status(self) -> int:
    """Sample the monitored MySQL and Redis servers and the task queue; once per cycle, any worker."""
    samples = collect_servers_once()
    if not samples:
        return 0
    return resource_bulk_create(samples, host=settings.MONITOR_HOSTNAME, cycle_id=self.request.id)


@shared_task(ignore_result=True)
def prune_old_resources() -> int:
    """Delete raw rows and collection-cycle markers older than RETENTION_DAYS, one short transaction per batch."""
    from monitor.storage.retention import prune_cycles, prune_resources, retention_cutoff

    cutoff = retention_cutoff(settings.RETENTION_DAYS)
    deleted = prune_resources(cutoff, batch_size=settings.RETENTION_BATCH_SIZE, pause=0.05)
    cycles = prune_cycles(cutoff, batch_size=settings.RETENTION_BATCH_SIZE, pause=0.05)
    logger.info("pruned %d rows and %d collection cycles older than %d days", deleted, cycles, settings.RETENTION_DAYS)
    return deleted
