"""Celery tasks: run the collectors, store their samples in one bulk insert.

Rates need each source's counter readings from its previous cycle, which
another pool process, or a worker on another machine, may have taken: they
are read from and stored to the database with the cycle
(monitor/storage/counters.py). What stays in the process is only what saves
work (the queue probe's broker connection, the Redis clients).
"""

import logging
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

from celery import shared_task
from celery.signals import task_prerun
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from db_django.celery import app as celery_app
from monitor.models import QueueReport
from monitor.storage.counters import SourceKey, locked_counters, read_counters
from monitor.storage.inserts import resource_bulk_create, retrying
from monitor.storage.instants import to_us

from . import host_timer  # noqa: F401  (starts the host timer in every worker)
from .collectors import Collected, Counters, Sample
from .collectors import mysql as mysql_collector
from .collectors import redis as redis_collector
from .collectors.host import collect_host
from .collectors.prometheus import scrape
from .queue_probe import QueueProbe
from .worker_control import task_counts  # noqa: F401  (registers the command in every worker)

logger = logging.getLogger(__name__)

_queue_probe = QueueProbe(celery_app)

# A source's collector: its previous readings and the cycle's time in, samples and readings out.
Collector = Callable[[Counters, float], Collected]
# The workers' task totals, one set per deployment whichever worker asks.
QUEUE_SOURCE: SourceKey = ("celery", "workers")


def store_host_cycle(cycle_id: str) -> int:
    """One cycle of this machine, stored under `cycle_id`: the host task's body and the worker's host timer's."""
    return store_cycle(host_collectors(), cycle_id=cycle_id, kind="host")


def host_collectors() -> list[tuple[SourceKey, Collector]]:
    """This machine, as MONITOR_HOSTNAME: its counters are read at the cycle's time."""
    return [(("host", settings.MONITOR_HOSTNAME), collect_host)]


def server_collectors() -> list[tuple[SourceKey, Collector]]:
    """MySQL, Redis and task-queue status; a server that is down yields `up = 0`.

    Each source fails on its own: the others' samples are still returned.
    Their counters are dated by the servers' and workers' own clocks.
    """
    timeout = settings.MONITOR_COLLECT_TIMEOUT

    def mysql(url: str) -> Collector:
        return lambda previous, at: mysql_collector.collect_mysql(url, previous, timeout)

    def redis(url: str) -> Collector:
        return lambda previous, at: redis_collector.collect_redis(url, previous, timeout)

    return [
        *((("mysql", mysql_collector.server_label(url)), mysql(url)) for url in settings.MONITOR_MYSQL_URLS),
        *((("redis", redis_collector.server_label(url)), redis(url)) for url in settings.MONITOR_REDIS_URLS),
        (QUEUE_SOURCE, lambda previous, at: _queue_probe.collect(previous, timeout)),
    ]


def store_cycle(collectors: list[tuple[SourceKey, Collector]], cycle_id: str | None = None, kind: str = "") -> int:
    """Collect every source once and store the cycle with its readings; returns the rows stored.

    With `kind` (host, servers) the cycle also stores how long its collectors
    took, `collection.duration_seconds:<kind>`: a slow server shows there first.

    The sources stay locked from before the first read until the cycle is
    stored, so a concurrent cycle of the same sources (beat and a collect-now
    in two pool processes) reads after this one is stored: each rate spans
    exactly the previous stored cycle. The cycle's timestamp is taken once the
    lock is held and is the time the host's counters count as read.

    Two cycles locking sources of which some have no row yet can deadlock (each
    holds the gap the other's new row goes in): the loser is collected and
    stored again, whole, once the winner is done (`retrying`).
    """
    return retrying(partial(_store_cycle_once, collectors, cycle_id, kind))


def _store_cycle_once(collectors: list[tuple[SourceKey, Collector]], cycle_id: str | None, kind: str) -> int:
    with locked_counters([source for source, _ in collectors]) as previous:
        at = timezone.now()
        started = time.monotonic()
        samples, readings = _collect(collectors, previous, at)
        if kind:
            took = time.monotonic() - started
            samples.append(Sample(f"collection.duration_seconds:{kind}", took, f"time the {kind} collectors took"))
        return resource_bulk_create(
            samples, host=settings.MONITOR_HOSTNAME, timestamp=at, cycle_id=cycle_id, counters=readings
        )


def peek(collectors: list[tuple[SourceKey, Collector]]) -> list[Sample]:
    """One cycle's samples against the stored readings, storing nothing (`manage.py collect --dry-run`)."""
    return _collect(collectors, read_counters([source for source, _ in collectors]), timezone.now())[0]


def collect_host_once() -> list[Sample]:
    return peek(host_collectors())


def collect_servers_once() -> list[Sample]:
    return peek(server_collectors())


def _collect(
    collectors: list[tuple[SourceKey, Collector]], previous: dict[SourceKey, Counters], at: datetime
) -> tuple[list[Sample], dict[SourceKey, Counters]]:
    samples: list[Sample] = []
    readings: dict[SourceKey, Counters] = {}
    for source, collect in collectors:
        collected = collect(previous[source], at.timestamp())
        samples += collected.samples
        readings[source] = collected.counters
    return samples, readings


@task_prerun.connect
def _fresh_enough_connections(task=None, **kwargs) -> None:
    """Before each task, as before each web request: drop database connections that broke or outlived CONN_MAX_AGE.

    Celery's own fixup, which closed them all, is told to keep them
    (CELERY_DB_REUSE_MAX in settings). Not for a task run in-process
    (`apply()`), which may be inside the caller's transaction.
    """
    if task is None or not task.request.is_eager:
        close_old_connections()


@shared_task(bind=True, ignore_result=True)
def collect_host_metrics(self) -> int:
    """Sample this machine and store the cycle; returns the number of rows.

    Routed to a broadcast queue (settings.CELERY_TASK_ROUTES): every worker
    gets each cycle and samples its own host.
    """
    return store_host_cycle(self.request.id)


@shared_task(bind=True, ignore_result=True)
def collect_server_status(self) -> int:
    """Sample the monitored MySQL and Redis servers and the task queue; once per cycle, any worker.

    What the workers answered is also kept as the queue report /monitor/application/ reads.
    """
    stored = store_cycle(server_collectors(), cycle_id=self.request.id, kind="servers")
    report = _queue_probe.take_report()
    if report is not None:
        QueueReport.objects.record(report.reported_at, report.workers, report.broker)
    return stored


@shared_task(ignore_result=True)
def scrape_targets() -> int:
    """Scrape every SCRAPE_TARGETS exporter once and store each target's samples (with `up`) on its own.

    One target's failure (down, slow, malformed) stores its `up = 0` and
    leaves the others alone. Returns the samples stored.
    """
    from monitor.storage.inserts import Conflict, Point, store

    stored = 0
    for url in settings.SCRAPE_TARGETS:
        at = to_us(timezone.now())
        scraped = scrape(url, settings.SCRAPE_TIMEOUT, settings.MONITOR_HOSTNAME)
        if scraped.error:
            logger.warning("scrape of %s failed: %s", url, scraped.error)
        try:
            stored += len(store([Point(s.name, scraped.host, at, s.value, s.description) for s in scraped.samples]))
        except Conflict as exc:  # the same instant stored twice with other values: a clock step
            logger.warning("scrape of %s not stored: %s", url, exc)
    return stored


@shared_task(ignore_result=True, acks_late=False)
def fold_rollups() -> int:
    """Fold the minutes of samples now due into the minute and hour rollups (monitor/storage/folding.py)."""
    from monitor.storage.folding import fold_pending

    report = fold_pending()
    if report.after != report.before:
        logger.info(
            "folded %d samples into the rollups: watermark %s -> %s (%.3f s)",
            report.samples,
            report.before,
            report.after,
            report.seconds,
        )
    return report.samples


# Acknowledged on start: with acks_late a prune longer than the broker's visibility
# timeout would be handed to another worker while it runs (settings); a prune cut
# short by a dead worker is finished by the next hour's.
@shared_task(ignore_result=True, acks_late=False)
def prune_old_resources() -> int:
    """Make sure the coming periods have partitions, then drop what each tier keeps past its retention."""
    from monitor.models import Sample
    from monitor.storage.partitions import ensure_partitions

    created = ensure_partitions()
    if created:
        logger.info("created partitions %s", ", ".join(created))
    reports = Sample.objects.prune(batch_size=settings.RETENTION_BATCH_SIZE, pause=0.05)
    removed = sum(tier.rows for tier in reports)
    logger.info(
        "pruned %d rows (%s)",
        removed,
        "; ".join(
            f"{t.tier}: {t.rows} older than {t.days} days"
            + (f", partitions {', '.join(t.partitions)}" if t.partitions else "")
            for t in reports
        ),
    )
    return removed
