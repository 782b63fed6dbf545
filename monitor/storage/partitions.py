"""Time partitions of the sample and rollup tables on MySQL/MariaDB: created ahead, dropped whole.

Retention on a partitioned table is `ALTER TABLE ... DROP PARTITION`: the
server unlinks the partition's file instead of deleting row by row, so pruning
a day costs milliseconds whatever it held, and inserts into today's partition
never wait on it. Every tier ends in a catch-all partition (`pmax`, `mmax`,
`hmax`); new periods are split off it ahead of time, while it is still empty,
so the split moves no rows (`ensure_partitions`, run by beat every hour).

Samples: RANGE (ts), one partition a day. Rollups: RANGE COLUMNS (step,
bucket): the latest values (step 0) in `platest`, per-minute buckets one
partition a week, per-hour buckets one a month. Other databases (SQLite, the
embedded default) are not partitioned: retention deletes there in batches
(monitor/storage/retention.py).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection

from monitor.models import Rollup, Sample

US = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# How far back partition_tables makes one partition per period (1,001 daily ones at most for the samples).
HISTORY = timedelta(days=1000)


def _next_day(at: datetime) -> datetime:
    return datetime(at.year, at.month, at.day, tzinfo=UTC) + timedelta(days=1)


def _next_week(at: datetime) -> datetime:
    day = datetime(at.year, at.month, at.day, tzinfo=UTC)
    return day + timedelta(days=7 - day.weekday())


def _next_month(at: datetime) -> datetime:
    return datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Tier:
    """One retention tier: which rows, cut how (one partition per `period`), kept how long (retention.py)."""

    name: str
    model: type
    step: int | None  # the rollup step it holds; None: raw samples
    unit: int  # the time column's units per second
    period: Callable[[datetime], datetime]  # start of the period after the one holding the instant
    ahead: int  # periods created in advance
    prefix: str  # partition names: prefix + first day no longer held, e.g. p20261128

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def column(self) -> str:
        return "ts" if self.step is None else "bucket"

    @property
    def top(self) -> str:
        return f"{self.prefix}max"

    def bound(self, at: datetime) -> int:
        return int((at - EPOCH).total_seconds()) * self.unit

    def at(self, bound: int) -> datetime:
        """The instant a bound in the time column's units stands for (the inverse of `bound`)."""
        return EPOCH + timedelta(seconds=bound / self.unit)

    def less_than(self, bound: int | None) -> str:
        if self.step is None:
            return "MAXVALUE" if bound is None else str(bound)
        if bound is None:
            return "MAXVALUE, MAXVALUE" if self is TIERS[-1] else f"{self.step}, MAXVALUE"
        return f"{self.step}, {bound}"

    def rows(self):
        """This tier's rows in its table."""
        rows = self.model.objects.all()
        return rows if self.step is None else rows.filter(step=self.step)


RAW = Tier("raw", Sample, None, US, _next_day, 3, "p")
MINUTE = Tier("minute", Rollup, Rollup.MINUTE, 1, _next_week, 2, "m")
HOUR = Tier("hour", Rollup, Rollup.HOUR, 1, _next_month, 2, "h")
TIERS = (RAW, MINUTE, HOUR)
LATEST_PARTITION = "PARTITION platest VALUES LESS THAN (1, 0)"


def supported() -> bool:
    return connection.vendor == "mysql"


def partition_tables(since: datetime, now: datetime) -> None:
    """Partition the (empty or small) tables: one partition per period from `since`, a few ahead, and the tops.

    At most HISTORY back: the first partition also holds anything older. One old row
    dated 1970 would otherwise ask for 20,000 daily partitions, past MySQL's 8,192,
    and the upgrade from the one-table layout failed half done.
    """
    since = max(since, now - HISTORY)
    sample = _definitions(RAW, _bounds(RAW, since, now))
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE `{RAW.table}` PARTITION BY RANGE (ts) ({', '.join(sample)})")
        rollup = [LATEST_PARTITION, *_definitions(MINUTE, _bounds(MINUTE, since, now))]
        rollup += _definitions(HOUR, _bounds(HOUR, since, now))
        cursor.execute(f"ALTER TABLE `{MINUTE.table}` PARTITION BY RANGE COLUMNS (step, bucket) ({', '.join(rollup)})")


def ensure_partitions(now: datetime | None = None) -> list[str]:
    """Split the periods up to `ahead` periods from now off each tier's top partition; returns what it made.

    Every period from the highest one made so far gets its own partition, so a
    beat that did not run for a while (a stopped deployment) leaves no partition
    spanning several periods: retention drops whole partitions only.
    """
    now = now or datetime.now(UTC)
    created = []
    for tier in TIERS:
        if not is_partitioned(tier):
            continue
        top = max((bound for _, bound in partitions(tier)), default=None)
        since = now if top is None else min(now, tier.at(top))
        new = [at for at in _bounds(tier, since, now) if top is None or tier.bound(at) > top]
        if not new:
            continue
        parts = ", ".join(_definitions(tier, new))
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE `{tier.table}` REORGANIZE PARTITION {tier.top} INTO ({parts})")
        created += [f"{tier.table}.{_name(tier, at)}" for at in new]
    return created


def partitions(tier: Tier) -> list[tuple[str, int]]:
    """(name, upper bound) of the tier's dated partitions, lowest first; [] when the table is not partitioned."""
    if not supported():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND PARTITION_NAME IS NOT NULL"
            " ORDER BY PARTITION_ORDINAL_POSITION",
            [tier.table],
        )
        rows = cursor.fetchall()
    return [
        (name, int(description.split(",")[-1]))
        for name, description in rows
        if name.startswith(tier.prefix) and name not in (tier.top, "platest")
    ]


def is_partitioned(tier: Tier) -> bool:
    if not supported():
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE()"
            " AND TABLE_NAME = %s AND PARTITION_NAME = %s",
            [tier.table, tier.top],
        )
        return cursor.fetchone()[0] > 0


def split_at(tier: Tier, cutoff: int) -> tuple[list[str], list[tuple[str, int]]]:
    """The names of the tier's partitions holding only instants before `cutoff` (in the time
    column's units), and (name, upper bound) of the others, lowest first: one read of the catalog."""
    dated = partitions(tier)
    return [name for name, upper in dated if upper <= cutoff], [(n, upper) for n, upper in dated if upper > cutoff]


def drop(tier: Tier, names: list[str]) -> None:
    if names:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE `{tier.table}` DROP PARTITION {', '.join(names)}")


def _definitions(tier: Tier, bounds: list[datetime]) -> list[str]:
    parts = [f"PARTITION {_name(tier, at)} VALUES LESS THAN ({tier.less_than(tier.bound(at))})" for at in bounds]
    return [*parts, f"PARTITION {tier.top} VALUES LESS THAN ({tier.less_than(None)})"]


def _bounds(tier: Tier, since: datetime, now: datetime) -> list[datetime]:
    """Upper bounds of the periods from the one holding `since` to `ahead` periods after the one holding `now`."""
    bounds = [tier.period(since)]
    while bounds[-1] <= now:
        bounds.append(tier.period(bounds[-1]))
    for _ in range(tier.ahead):
        bounds.append(tier.period(bounds[-1]))
    return bounds


def _name(tier: Tier, upper: datetime) -> str:
    """Named after the first day a partition no longer holds: p20261128 ends at 2026-11-28 00:00 UTC."""
    return f"{tier.prefix}{upper:%Y%m%d}"
