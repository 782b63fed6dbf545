"""Reads of Resource rows beyond the plain list: latest values and downsampled series."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Avg, Count, F, Func, IntegerField, Max, Min, Q, QuerySet, Window
from django.db.models.functions import FirstValue

from monitor.models import Resource

MAX_STEP = 366 * 86400  # one point per year at most: anything longer is a typo
MAX_POINTS = 11_000  # Prometheus' limit for query_range: keeps a series one screenful
_STEP = re.compile(r"^(\d+)(s|m|h|d)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
AGGREGATES = {"avg": Avg, "min": Min, "max": Max, "count": Count}
SERIES_AGGREGATES = (*AGGREGATES, "last")


class EpochSeconds(Func):
    """Whole seconds since 1970-01-01 UTC of a stored (UTC) datetime column."""

    output_field = IntegerField()

    def as_mysql(self, compiler, connection, **extra):
        # TIMESTAMPDIFF ignores the session time zone, unlike UNIX_TIMESTAMP().
        return self.as_sql(
            compiler, connection, template="TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', %(expressions)s)", **extra
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)", **extra
        )


class Bucket(Func):
    """Start (epoch seconds) of the `step`-second bucket a row falls in."""

    output_field = IntegerField()

    def __init__(self, expression, step: int):
        super().__init__(expression)
        self.step = int(step)  # an int inlined into the SQL: identical in SELECT and GROUP BY

    def as_sql(self, compiler, connection, **extra):
        epoch_sql, params = compiler.compile(EpochSeconds(*self.source_expressions))
        # Integer division back to seconds: MySQL's DIV; SQLite's `/` on integers.
        div = "DIV" if connection.vendor == "mysql" else "/"
        return f"(({epoch_sql}) {div} {self.step}) * {self.step}", params


def parse_step(text: str) -> int:
    """'60s', '5m', '1h', '1d' or plain seconds -> seconds (ValueError if not)."""
    match = _STEP.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"invalid step {text!r}: use a positive duration like 60s, 5m, 1h or 1d")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_STEP:
        raise ValueError(f"step {text!r} is longer than {MAX_STEP // 86400} days")
    return seconds


@dataclass(frozen=True)
class SeriesQuery:
    name: str
    host: str | None
    since: datetime
    until: datetime
    step: int
    aggregate: str

    def points_requested(self) -> int:
        return int((self.until - self.since) / timedelta(seconds=self.step)) + 1


def resource_series(query: SeriesQuery) -> list[tuple[int, float]]:
    """One (bucket start, value) per step that has data, computed in the database.

    Served by the (name, host, timestamp, value) index: a range scan that never
    reads the table itself.
    """
    rows = Resource.objects.filter(name=query.name, timestamp__gte=query.since, timestamp__lt=query.until)
    if query.host is not None:
        rows = rows.filter(host=query.host)
    rows = rows.annotate(bucket=Bucket(F("timestamp"), query.step))
    if query.aggregate == "last":
        latest = Window(
            FirstValue("value"), partition_by=[F("bucket")], order_by=[F("timestamp").desc(), F("id").desc()]
        )
        points = rows.annotate(point=latest).values_list("bucket", "point").distinct().order_by("bucket")
    else:
        function = AGGREGATES[query.aggregate]
        points = rows.values("bucket").annotate(point=function("value")).values_list("bucket", "point")
        points = points.order_by("bucket")
    return [(int(bucket), float(value)) for bucket, value in points]


def resource_latest(rows: QuerySet) -> list[Resource]:
    """The newest row of each (name, host) among `rows`: two index-served queries.

    First the newest timestamp per series (a loose index scan on MySQL), then
    the rows at those points; ties on timestamp go to the highest id.
    """
    newest = list(rows.order_by().values_list("name", "host").annotate(ts=Max("timestamp")))
    if not newest:
        return []
    match = Q()
    for name, host, ts in newest:
        match |= Q(name=name, host=host, timestamp=ts)
    picked: dict[tuple[str, str], Resource] = {}
    for row in Resource.objects.filter(match).order_by("id"):
        picked[(row.name, row.host)] = row  # later id wins a tie
    return sorted(picked.values(), key=lambda r: (r.host, r.name))
