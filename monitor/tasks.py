"""Celery tasks: run a collector, store its samples in one bulk insert.

Trackers live for the life of the worker process: they hold the previous
counter readings that per-second rates are computed from.
"""

import logging

from celery import shared_task
from django.conf import settings

from .collectors import RateTracker, Sample
from .collectors.host import collect_host
from .storage import resource_bulk_create
from .worker_control import task_counts  # noqa: F401  (registers the command in every worker)

logger = logging.getLogger(__name__)

_host_tracker = RateTracker()
_server_tracker = RateTracker()


def collect_host_once() -> list[Sample]:
    return collect_host(_host_tracker)


def collect_servers_once() -> list[Sample]:
    """MySQL and Redis server status; a server that is down yields `up = 0`."""
    from .collectors.mysql import collect_mysql
    from .collectors.redis import collect_redis

    timeout = settings.MONITOR_COLLECT_TIMEOUT
    samples: list[Sample] = []
    for url in settings.MONITOR_MYSQL_URLS:
        samples += collect_mysql(url, _server_tracker, timeout=timeout)
    for url in settings.MONITOR_REDIS_URLS:
        samples += collect_redis(url, _server_tracker, timeout=timeout)
    return samples


@shared_task(ignore_result=True)
def collect_host_metrics() -> int:
    """Sample this machine and store the cycle; returns the number of rows."""
    return resource_bulk_create(collect_host_once(), host=settings.MONITOR_HOSTNAME)


@shared_task(ignore_result=True)
def collect_server_status() -> int:
    """Sample the monitored MySQL and Redis servers and store the cycle."""
    samples = collect_servers_once()
    if not samples:
        return 0
    return resource_bulk_create(samples, host=settings.MONITOR_HOSTNAME)


@shared_task(ignore_result=True)
def prune_old_resources() -> int:
    """Delete raw rows older than RETENTION_DAYS, one short transaction per batch."""
    from .retention import prune_resources, retention_cutoff

    deleted = prune_resources(
        retention_cutoff(settings.RETENTION_DAYS), batch_size=settings.RETENTION_BATCH_SIZE, pause=0.05
    )
    logger.info("pruned %d rows older than %d days", deleted, settings.RETENTION_DAYS)
    return deleted
