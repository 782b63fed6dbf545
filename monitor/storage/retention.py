"""Retention per tier: raw samples, per-minute and per-hour rollups each kept for their own number of days.

On MySQL/MariaDB the tables are partitioned by time (partitions.py) and a
tier's expired partitions are dropped whole, and nothing else: a partition
goes once all of it is past the cutoff, so a tier keeps at most one period
(a day of samples, a week of minutes, a month of hours) more than its days,
and no row is ever deleted one by one beside the inserts. Elsewhere (SQLite)
and on a table that is not partitioned, rows go in small batches, series by
series along the primary key, each batch its own short transaction, so the
API and the collectors keep writing meanwhile. Collection-cycle markers go
with the raw samples they vouch for.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection

from monitor.models import CollectionCycle, Series

from . import partitions
from .folding import folded_until
from .partitions import TIERS, Tier


@dataclass
class TierPrune:
    """What retention removes (or would) from one tier."""

    tier: str
    days: int
    cutoff: datetime
    rows: int = 0
    partitions: list[str] = field(default_factory=list)
    estimated: bool = False  # rows counted from the server's statistics (a dry run on partitions)
    # Partitioned: the oldest partition kept, and when all of it will be past the cutoff.
    next_partition: tuple[str, datetime] | None = None


TIER_NAMES = tuple(tier.name for tier in TIERS)


def retention_days() -> dict[str, int]:
    return {
        "raw": settings.RETENTION_RAW_DAYS,
        "minute": settings.RETENTION_MINUTE_DAYS,
        "hour": settings.RETENTION_HOUR_DAYS,
    }


def prune(
    now: datetime | None = None,
    dry_run: bool = False,
    batch_size: int = 5000,
    pause: float = 0.0,
    days: dict[str, int] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> list[TierPrune]:
    """Remove (or with `dry_run` only count) what every tier holds past its retention."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if pause < 0:
        raise ValueError(f"pause must not be negative, got {pause}")
    now = now or datetime.now(UTC)
    days = {**retention_days(), **(days or {})}
    reports = []
    for tier in TIERS:
        name = tier.name
        if days[name] < 1:
            raise ValueError(f"retention of {name} must be at least 1 day, got {days[name]}")
        report = TierPrune(name, days[name], now - timedelta(days=days[name]))
        cutoff = tier.bound(report.cutoff)
        if name == "raw":
            # Samples the folder has not folded yet stay, whatever their age: the tiers need them.
            watermark = folded_until(connection)
            if watermark is not None:
                cutoff = min(cutoff, watermark)
        if partitions.is_partitioned(tier):
            # Rows written late with instants older than the first partition's period
            # live in that partition and go with it.
            report.partitions, kept = partitions.split_at(tier, cutoff)
            if report.partitions:
                report.rows, report.estimated = _partition_rows(tier, report.partitions), True
                if not dry_run:
                    partitions.drop(tier, report.partitions)
            if kept:
                oldest, upper = kept[0]
                report.next_partition = (oldest, tier.at(upper) + timedelta(days=report.days))
        elif dry_run:
            report.rows = _count(tier, cutoff)
        else:
            report.rows = _delete(tier, cutoff, batch_size, pause, progress)
        if name == "raw" and not dry_run:
            _delete_cycles(report.cutoff, batch_size)
        reports.append(report)
    return reports


def _partition_rows(tier: Tier, names: list[str]) -> int:
    placeholders = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(TABLE_ROWS), 0) FROM information_schema.PARTITIONS"
            f" WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND PARTITION_NAME IN ({placeholders})",
            [tier.table, *names],
        )
        return int(cursor.fetchone()[0])


def _count(tier: Tier, cutoff: int) -> int:
    table = connection.ops.quote_name(tier.table)
    step = "" if tier.step is None else f" AND step = {int(tier.step)}"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {tier.column} < %s{step}", [cutoff])
        return int(cursor.fetchone()[0])


def _delete(
    tier: Tier,
    cutoff: int,
    batch_size: int,
    pause: float,
    progress: Callable[[str, int], None] | None,
) -> int:
    """Oldest first along each series' primary key range, `batch_size` rows per statement."""
    table, column = connection.ops.quote_name(tier.table), tier.column
    step = "" if tier.step is None else f" AND step = {int(tier.step)}"
    if connection.vendor == "mysql":  # a table left unpartitioned
        sql = f"DELETE FROM {table} WHERE series_id = %s{step} AND {column} < %s ORDER BY {column} LIMIT %s"
    else:  # SQLite has no DELETE ... LIMIT unless compiled with it
        sql = (
            f"DELETE FROM {table} WHERE series_id = %s{step} AND {column} IN"
            f" (SELECT {column} FROM {table} WHERE series_id = %s{step} AND {column} < %s ORDER BY {column} LIMIT %s)"
        )
    deleted = 0
    for series_id in Series.objects.order_by("id").values_list("id", flat=True).iterator():
        while True:
            params = [series_id, cutoff, batch_size]
            if connection.vendor != "mysql":
                params = [series_id, *params]
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                count = cursor.rowcount
            deleted += count
            if progress is not None and count:
                progress(tier.name, deleted)
            if count < batch_size:
                break
            if pause:
                time.sleep(pause)
    return deleted


def _delete_cycles(cutoff: datetime, batch_size: int) -> int:
    """Collection-cycle markers older than the raw samples they vouch for, oldest first, in batches."""
    deleted = 0
    while True:
        ids = list(
            CollectionCycle.objects.filter(stored_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        deleted += CollectionCycle.objects.filter(id__in=ids).delete()[0]
        if len(ids) < batch_size:
            return deleted
