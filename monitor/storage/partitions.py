"""Time partitions of the sample and rollup tables on MySQL/MariaDB: created ahead, dropped whole.

Retention on a partitioned table is `ALTER TABLE ... DROP PARTITION`: the
server unlinks the partition's file instead of deleting row by row, so pruning
a day costs milliseconds whatever it held, and inserts into today's partition
never wait on it. Each table has a catch-all `pmax` partition at the top;
new periods are split off it ahead of time (while it is still empty, so the
split moves no rows) by `ensure_partitions`, which beat runs every hour.

Other databases (SQLite, the embedded default) are not partitioned: retention
deletes there in batches (monitor/storage/retention.py).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection

from monitor.models import RollupHour, RollupMinute, Sample

US = 1_000_000


@dataclass(frozen=True)
class Plan:
    """How one table is cut: `column` in `unit` per second, one partition per `period`."""

    model: type
    column: str
    unit: int  # column units per second: 1_000_000 for microseconds, 1 for seconds
    period: Callable[[datetime], datetime]  # start of the period after the one holding the instant
    ahead: int  # periods created in advance

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    def bound(self, at: datetime) -> int:
        return int((at - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * self.unit


def _next_day(at: datetime) -> datetime:
    return datetime(at.year, at.month, at.day, tzinfo=UTC) + timedelta(days=1)


def _next_week(at: datetime) -> datetime:
    day = datetime(at.year, at.month, at.day, tzinfo=UTC)
    return day + timedelta(days=7 - day.weekday())


def _next_month(at: datetime) -> datetime:
    return datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)


PLANS = (
    Plan(Sample, "ts", US, _next_day, ahead=3),
    Plan(RollupMinute, "bucket", 1, _next_week, ahead=2),
    Plan(RollupHour, "bucket", 1, _next_month, ahead=2),
)


def supported() -> bool:
    return connection.vendor == "mysql"


def partition_table(plan: Plan, since: datetime, now: datetime) -> None:
    """Partition an empty (or small) table: one partition per period from `since`, `ahead` more, and pmax."""
    bounds = _bounds(plan, since, now)
    parts = [f"PARTITION {_name(at)} VALUES LESS THAN ({plan.bound(at)})" for at in bounds]
    parts.append("PARTITION pmax VALUES LESS THAN MAXVALUE")
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE `{plan.table}` PARTITION BY RANGE ({plan.column}) ({', '.join(parts)})")


def ensure_partitions(now: datetime | None = None) -> list[str]:
    """Split the periods up to `ahead` periods from now off each table's pmax; returns what it created."""
    now = now or datetime.now(UTC)
    created = []
    for plan in PLANS:
        existing = partitions(plan)
        if not existing:
            continue  # not partitioned (yet): nothing to maintain
        top = max(bound for _, bound in existing if bound is not None)
        new = [at for at in _bounds(plan, now, now) if plan.bound(at) > top]
        if not new:
            continue
        parts = [f"PARTITION {_name(at)} VALUES LESS THAN ({plan.bound(at)})" for at in new]
        parts.append("PARTITION pmax VALUES LESS THAN MAXVALUE")
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE `{plan.table}` REORGANIZE PARTITION pmax INTO ({', '.join(parts)})")
        created += [f"{plan.table}.{_name(at)}" for at in new]
    return created


def partitions(plan: Plan) -> list[tuple[str, int | None]]:
    """(name, upper bound) of each partition, lowest first; None is MAXVALUE; [] when not partitioned."""
    if not supported():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND PARTITION_NAME IS NOT NULL"
            " ORDER BY PARTITION_ORDINAL_POSITION",
            [plan.table],
        )
        rows = cursor.fetchall()
    return [(name, None if bound == "MAXVALUE" else int(bound)) for name, bound in rows]


def droppable(plan: Plan, cutoff: int) -> list[tuple[str, int, int]]:
    """Partitions holding only instants before `cutoff` (column units): (name, lower bound, upper bound)."""
    found, lower = [], None
    for name, upper in partitions(plan):
        if upper is not None and upper <= cutoff and name != "pmax":
            found.append((name, lower, upper))
        lower = upper
    return found


def drop(plan: Plan, names: list[str]) -> None:
    if names:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE `{plan.table}` DROP PARTITION {', '.join(names)}")


def _bounds(plan: Plan, since: datetime, now: datetime) -> list[datetime]:
    """Upper bounds of the periods from the one holding `since` to `ahead` periods after the one holding `now`."""
    bounds = [plan.period(since)]
    while bounds[-1] <= now:
        bounds.append(plan.period(bounds[-1]))
    for _ in range(plan.ahead):
        bounds.append(plan.period(bounds[-1]))
    return bounds


def _name(upper: datetime) -> str:
    """A partition is named after the first day it no longer holds: p20261128 ends at 2026-11-28 00:00 UTC."""
    return f"p{upper:%Y%m%d}"
