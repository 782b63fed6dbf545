"""Celery tasks: run a collector, store its samples in one bulk insert.

Trackers live for the life of the worker process: they hold the previous
counter readings that per-second rates are computed from.
"""

import logging
import time

from celery import shared_task
from django.conf import settings
from kombu import Connection
from kombu.pidbox import Mailbox

from db_django.celery import app as celery_app

from .collectors import RateTracker, Sample
from .collectors.host import collect_host
from .collectors.mysql import collect_mysql
from .collectors.queue import collect_queue
from .collectors.redis import collect_redis
from .status import broadcast_and_collect, broker_connection, control_mailbox, queue_depths
from .storage import resource_bulk_create
from .worker_control import task_counts  # noqa: F401  (registers the command in every worker)

logger = logging.getLogger(__name__)

_host_tracker = RateTracker()
_server_tracker = RateTracker()
_workers_last_cycle = 0
_broker: Connection | None = None
_mailbox: Mailbox | None = None
_listened_fully_at = float("-inf")
# The broadcast stops listening once as many workers answered as last cycle, so
# a worker that joins would never be heard; at least this often a cycle listens
# out its whole window instead.
WORKER_DISCOVERY_SECONDS = 10.0


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
    samples += collect_queue_once(timeout)
    return samples


def collect_queue_once(timeout: float) -> list[Sample]:
    """Workers' task counts and queue lengths, over one broker connection kept between cycles.

    Opening a connection and a mailbox costs more CPU than the questions asked
    on them, so both live as long as the broker answers; the broadcast stops
    listening once as many workers answered as last cycle instead of waiting
    out its window, which at a 1 s interval would overlap the next cycle and
    keep every worker's event loop busy. Every WORKER_DISCOVERY_SECONDS a cycle
    listens out the window, so a worker that joined is counted.
    """
    global _broker, _mailbox, _workers_last_cycle, _listened_fully_at
    started = time.monotonic()
    expected = _workers_last_cycle
    if started - _listened_fully_at >= WORKER_DISCOVERY_SECONDS:
        expected, _listened_fully_at = 0, started
    try:
        if _broker is None or _mailbox is None:
            _broker = broker_connection(celery_app, timeout)
            _mailbox = control_mailbox(celery_app, _broker)
        replies = broadcast_and_collect(
            celery_app, _broker, "task_counts", wait=timeout * 0.6, expected=expected, mailbox=_mailbox
        )
        depths = queue_depths(_broker, [celery_app.conf.task_default_queue])
    except Exception as exc:  # broker down or frozen: that is the sample
        logger.warning("task queue: broker unavailable: %s", exc)
        if _broker is not None:
            _broker.release()
        _broker = _mailbox = None
        return [Sample("celery.broker_up", 0.0, "broker answered")]
    _workers_last_cycle = len(replies)
    return [Sample("celery.broker_up", 1.0, "broker answered")] + collect_queue(
        replies, depths, _server_tracker, time.monotonic()
    )


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


# Acknowledged when it starts, unlike the cycles: a prune can outlast the broker's
# visibility timeout (settings), and a late ack would have it handed out again
# while it runs. One cut short is finished by the next hour's.
@shared_task(ignore_result=True, acks_late=False)
def prune_old_resources() -> int:
    """Delete raw rows older than RETENTION_DAYS, one short transaction per batch."""
    from .retention import prune_resources, retention_cutoff

    deleted = prune_resources(
        retention_cutoff(settings.RETENTION_DAYS), batch_size=settings.RETENTION_BATCH_SIZE, pause=0.05
    )
    logger.info("pruned %d rows older than %d days", deleted, settings.RETENTION_DAYS)
    return deleted
