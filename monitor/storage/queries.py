"""Reads: series selection, downsampled series over the rollup tiers, latest values, rows newest first.

Every read starts from the catalog (a few thousand rows at most per host), then
touches only the samples or rollups of the series it selected, by their
(series_id, time) primary key. The reads a dashboard polls (`replica_read`) may
be served by the read replica (router.py); `resource_row`, which the API's
edits read before and after they write, stays on the primary.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter
from typing import NamedTuple

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Max, Min, Q, QuerySet

from monitor.gc_pause import gc_paused
from monitor.models import Rollup, Sample, Series

from .folding import folded_until
from .instants import from_us, to_us
from .names import parse, series_key
from .router import read_connection, replica_read

MAX_STEP = 366 * 86400  # one point per year at most: anything longer is a typo
MAX_POINTS = 11_000  # Prometheus' limit for query_range: keeps a series one screenful
SERIES_AGGREGATES = ("avg", "min", "max", "last", "count")
US = 1_000_000
_STEP = re.compile(r"^(\d+)(s|m|h|d)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
# Floor division of signed microseconds in SQL, where DIV and `/` truncate toward
# zero: shifting by a whole number of steps beyond year 1 makes every value positive.
_SHIFT_SECONDS = 62_135_596_800 + 86400


def parse_step(text: str) -> int:
    """'60s', '5m', '1h', '1d' or plain seconds -> seconds (ValueError if not)."""
    match = _STEP.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"invalid step {text!r}: use a positive duration like 60s, 5m, 1h or 1d")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_STEP:
        raise ValueError(f"step {text!r} is longer than {MAX_STEP // 86400} days")
    return seconds


def select_series(name: str | None = None, name_prefix: str | None = None, host: str | None = None) -> QuerySet:
    """Catalog rows matching the API's filters, each served by an index (key, metric or host+metric)."""
    rows = Series.objects.all()
    if name is not None and host is not None:
        return rows.filter(key=series_key(host, name))
    if host is not None:
        rows = rows.filter(host=host)
    if name is not None:
        rows = rows.filter(metric=parse(name)[0], name=name)
    if name_prefix:
        head = re.split(r"[:{]", name_prefix, maxsplit=1)[0]
        narrow = Q(metric__startswith=name_prefix)
        if head != name_prefix:
            narrow |= Q(metric=head)
        rows = rows.filter(narrow, name__startswith=name_prefix)
    return rows


# --- series ----------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Source:
    """Where a part of a series comes from: raw samples or a rollup tier (`seconds` per bucket)."""

    model: type[Sample] | type[Rollup]
    seconds: int  # 0: raw samples
    time_column: str  # microseconds (raw) or seconds (tiers)

    @property
    def table(self) -> str:
        return self.model._meta.db_table


RAW = Source(Sample, 0, "ts")
MINUTE = Source(Rollup, Rollup.MINUTE, "bucket")
HOUR = Source(Rollup, Rollup.HOUR, "bucket")


@replica_read
def resource_series(query: SeriesQuery) -> list[tuple[int, float]]:
    """One (bucket start, value) per step that has data.

    Whole tier buckets come from the coarsest tier whose bucket divides the
    step; the edges of the range that cut a tier bucket come from the next
    finer one, so every point equals the computation over raw samples.
    """
    ids = list(select_series(query.name, None, query.host).values_list("id", flat=True))
    if not ids:
        return []
    return series_points(ids, to_us(query.since), to_us(query.until), query.step, query.aggregate)


@replica_read
def series_points(ids: list[int], since: int, until: int, step: int, aggregate: str) -> list[tuple[int, float]]:
    merged: dict[int, list] = {}
    for source, lo, hi in folded_plan(since, until, step):
        for bucket, *figures in _aggregates(source, ids, lo, hi, step, aggregate):
            _merge(merged, bucket, _figures(*figures))
        if aggregate == "last":
            for bucket, last, last_ts, series_id in _lasts(source, ids, lo, hi, step):
                _merge(merged, bucket, [0, 0.0, None, None, last, (last_ts, series_id)])
    result = _RESULTS[aggregate]
    return [(bucket, result(merged[bucket])) for bucket in sorted(merged)]


@replica_read
def series_points_many(
    groups: list[list[int]], since: int, until: int, step: int, aggregate: str
) -> list[list[tuple[int, float]]]:
    """`series_points` of several groups of series over one range, with one query per tier for them all.

    A dashboard view asks for dozens of series at once; reading every group's
    rows in the same statements (grouped by series too) spares a round trip
    per group and tier. Each group's answer is what `series_points(group, ...)`
    gives: the same plan over the tiers, the same merge of partial buckets.
    """
    owners: dict[int, list[int]] = {}
    for index, ids in enumerate(groups):
        for series_id in ids:
            owners.setdefault(series_id, []).append(index)
    merged: list[dict[int, list]] = [{} for _ in groups]
    everyone = sorted(owners)
    if not everyone:
        return [[] for _ in groups]
    for source, lo, hi in folded_plan(since, until, step):
        for start in range(0, len(everyone), IDS_PER_QUERY):
            ids = everyone[start : start + IDS_PER_QUERY]
            for series_id, bucket, *figures in _aggregates(source, ids, lo, hi, step, aggregate, by_series=True):
                for index in owners[series_id]:
                    _merge(merged[index], bucket, _figures(*figures))
            if aggregate == "last":
                for bucket, last, last_ts, series_id in _lasts(source, ids, lo, hi, step, by_series=True):
                    for index in owners[series_id]:
                        _merge(merged[index], bucket, [0, 0.0, None, None, last, (last_ts, series_id)])
    result = _RESULTS[aggregate]
    return [[(bucket, result(held[bucket])) for bucket in sorted(held)] for held in merged]


def plan(since: int, until: int, step: int, sources: tuple[Source, ...] = (HOUR, MINUTE)) -> list[tuple]:
    """[(source, lo, hi)] covering [since, until) in microseconds: tiers for whole buckets, finer at the edges."""
    if since >= until:
        return []
    for index, source in enumerate(sources):
        if step % source.seconds:
            continue
        size = source.seconds * US
        lo, hi = -(-since // size) * size, until // size * size
        if lo >= hi:
            continue
        finer = sources[index + 1 :]
        return [*plan(since, lo, step, finer), (source, lo, hi), *plan(hi, until, step, finer)]
    return [(RAW, since, until)]


def folded_plan(since: int, until: int, step: int) -> list[tuple]:
    """`plan` over what the tiers hold: past the fold watermark (storage/folding.py) only raw samples count.

    The watermark is read first: the folder moves it in the transaction that fills
    the tiers below it, so the tier rows read next hold at least that much.
    """
    watermark = folded_until(read_connection(Rollup))
    if watermark is None or watermark >= until:
        return plan(since, until, step)
    cut = max(since, watermark)
    return [*plan(since, cut, step), (RAW, cut, until)]


def _bucket_sql(source: Source, step: int) -> tuple[str, int]:
    """SQL for the request bucket (seconds) of a row, and the shift it needs."""
    per = step * US if source is RAW else step
    shift_steps = -(-_SHIFT_SECONDS // step)
    shift = shift_steps * per
    return f"((({source.time_column} + {shift}) DIV {per}) - {shift_steps}) * {step}", shift


def _where(source: Source, ids: list[int], lo: int, hi: int) -> tuple[str, list]:
    placeholders = ", ".join(["%s"] * len(ids))
    column = source.time_column
    if source is RAW:
        return f"series_id IN ({placeholders}) AND {column} >= %s AND {column} < %s", [*ids, lo, hi]
    where = f"series_id IN ({placeholders}) AND step = %s AND {column} >= %s AND {column} < %s"
    return where, [*ids, source.seconds, lo // US, hi // US]


# The figures of a bucket (count, sum, min, max), as SQL over raw samples, over tier rows grouped,
# and from one tier row alone; what an aggregate does not read is sent as a constant: the server
# prints every double as text for the client to parse back (a 24 h read at 1 minute is 1,440 rows).
_FIGURE_SQL = {
    "count": ("COUNT(*)", "SUM(count)", "count"),
    "sum": ("SUM(value)", "SUM(sum)", "sum"),
    "min": ("MIN(value)", "MIN(min)", "min"),
    "max": ("MAX(value)", "MAX(max)", "max"),
}
_UNREAD = {"sum": "0", "min": "NULL", "max": "NULL"}  # the count is always read: it says a bucket has data
_READS = {
    "avg": {"count", "sum"},
    "count": {"count"},
    "min": {"count", "min"},
    "max": {"count", "max"},
    "last": {"count"},
}
_RAW, _GROUPED, _ROW = range(3)


def _aggregates(
    source: Source, ids: list[int], lo: int, hi: int, step: int, aggregate: str, by_series: bool = False
) -> list[tuple]:
    """(bucket, count, sum, min, max) of the series together, or with by_series (series_id, bucket, ...) each.

    Only the figures `aggregate` reads are sent (the others come back 0 or NULL).
    Where each tier row is a bucket of its own (the step is the tier's, and one
    series or each series apart), the rows are read as they are, without grouping.
    """
    if source is RAW:
        form = _RAW
    elif step == source.seconds and (by_series or len(ids) == 1):
        form = _ROW
    else:
        form = _GROUPED
    reads = _READS[aggregate]
    columns = [sql[form] if figure in reads else _UNREAD[figure] for figure, sql in _FIGURE_SQL.items()]
    where, params = _where(source, ids, lo, hi)
    series = "series_id, " if by_series else ""
    if form == _ROW:  # the tier's bucket is the request's
        return _fetch(source, f"SELECT {series}bucket, {', '.join(columns)} FROM {source.table} WHERE {where}", params)
    bucket, _ = _bucket_sql(source, step)
    # ORDER BY NULL: MySQL would sort the groups for nothing (callers merge them into a dict).
    return _fetch(
        source,
        f"SELECT {series}{bucket} AS b, {', '.join(columns)} FROM {source.table} WHERE {where}"
        f" GROUP BY {series}b ORDER BY NULL",
        params,
    )


def _figures(count, total, low, high) -> list:
    """A bucket's figures as `_merge` holds them (MySQL sums integers as DECIMAL)."""
    return [int(count), float(total), _float(low), _float(high), None, None]


def _float(value) -> float | None:
    return None if value is None else float(value)


def _lasts(source: Source, ids: list[int], lo: int, hi: int, step: int, by_series: bool = False) -> list[tuple]:
    """(bucket, last value, its time, its series) of the series together, or with by_series of each."""
    bucket, _ = _bucket_sql(source, step)
    where, params = _where(source, ids, lo, hi)
    value, ts = ("value", "ts") if source is RAW else ("last", "last_ts")
    partition = f"series_id, {bucket}" if by_series else bucket
    inner = (
        f"SELECT {bucket} AS b, {value} AS v, {ts} AS t, series_id,"
        f" ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {ts} DESC, series_id DESC) AS n"
        f" FROM {source.table} WHERE {where}"
    )
    return _fetch(source, f"SELECT b, v, t, series_id FROM ({inner}) ranked WHERE n = 1", params)


def _fetch(source: Source, sql: str, params: list) -> list[tuple]:
    connection = read_connection(source.model)
    if connection.vendor != "mysql":
        sql = sql.replace(" DIV ", " / ")  # SQLite divides integers as integers
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _merge(merged: dict[int, list], bucket: int, part: list) -> None:
    bucket = int(bucket)
    held = merged.get(bucket)
    if held is None:
        merged[bucket] = part
    else:
        _combine(held, part)


def _combine(held: list, part: list) -> None:
    """Add a part of a bucket (another source's, another series') to what `held` has of it."""
    held[0] += part[0]
    held[1] += part[1]
    if part[2] is not None:
        held[2] = part[2] if held[2] is None else min(held[2], part[2])
    if part[3] is not None:
        held[3] = part[3] if held[3] is None else max(held[3], part[3])
    if part[5] is not None and (held[5] is None or part[5] > held[5]):
        held[4], held[5] = part[4], part[5]


# A bucket's answer from what `_merge` holds of it: [count, sum, min, max, last, (last_ts, series)].
_RESULTS = {
    "avg": lambda held: held[1] / held[0],
    "count": lambda held: float(held[0]),
    "min": lambda held: float(held[2]),
    "max": lambda held: float(held[3]),
    "last": lambda held: float(held[4]),
}


# --- latest ------------------------------------------------------------------------------


class Row(NamedTuple):
    """A sample with its series' name, host and description: what the Resource API shows.

    A tuple: `latest` builds 20,000 of them per request, and a tuple is built
    in half the time of a slotted dataclass.
    """

    series_id: int
    ts: int
    value: float
    name: str
    host: str
    description: str

    @property
    def id(self) -> str:
        return f"{self.series_id}-{self.ts}"

    @property
    def timestamp(self) -> datetime:
        return from_us(self.ts)


# Up to this many selected series, their latest values are looked up by key; past it the
# whole latest-values partition (one row per series) is read and matched in Python, which
# is cheaper than a long IN list and than a join sorted by name in the database.
LATEST_BY_KEY_MAX = 2000
BY_HOST_THEN_NAME = itemgetter(Row._fields.index("host"), Row._fields.index("name"))


class TooManySeries(Exception):
    """More series are selected than the caller's bound allows."""


@replica_read
def resource_latest(series: QuerySet, limit: int | None = None) -> list[Row]:
    """The newest sample of each selected series, from the catalog and the latest values (no sample is read).

    Two plain reads joined here, ordered by host then name (code point order, as the
    binary collation orders them): at 20,000 series the database's join and sort
    took twice as long as both reads together. With `limit`, more series than that
    raise TooManySeries (the catalog read stops one past it: no COUNT first).
    """
    selected = series.order_by().values_list("id", "name", "host", "description")
    with gc_paused():
        catalog = {
            series_id: (name, host, description)
            for series_id, name, host, description in _fetch_rows(selected if limit is None else selected[: limit + 1])
        }
        if limit is not None and len(catalog) > limit:
            raise TooManySeries(limit)
        if not catalog:
            return []
        latest = Rollup.objects.filter(step=Rollup.LATEST, bucket=0)
        if len(catalog) <= LATEST_BY_KEY_MAX:
            latest = latest.filter(series_id__in=list(catalog))
        make, named = tuple.__new__, catalog.get  # tuple.__new__: Row's own __new__ is Python, 3x slower
        rows = [
            make(Row, (series_id, ts, value, *names))
            for series_id, ts, value in _fetch_rows(latest.order_by().values_list("series_id", "last_ts", "last"))
            if (names := named(series_id)) is not None
        ]
    rows.sort(key=BY_HOST_THEN_NAME)
    return rows


def _fetch_rows(query: QuerySet) -> list[tuple]:
    """A values_list query's rows as the driver returns them, in one fetch.

    For reads of plain columns (no field converters): Django's own iteration
    fetches 100 rows at a time through its cursor wrappers, which at `latest`'s
    40,000 rows cost more than the fetch itself.
    """
    try:
        sql, params = query.query.get_compiler(query.db).as_sql()
    except EmptyResultSet:
        return []
    with connections[query.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@replica_read
def latest_instants(series: QuerySet) -> dict[int, int]:
    """{series id: microseconds of its newest sample} for the selected series."""
    rows = Rollup.objects.filter(step=Rollup.LATEST, bucket=0, series__in=series.values("id"))
    return dict(rows.values_list("series_id", "last_ts"))


# --- rows newest (or oldest) first ------------------------------------------------------

# Series per statement when walking samples across many series (the optimizer's
# range list for IN (...) stays small).
IDS_PER_QUERY = 2000
# The widest window one step of the walk reads: a dense hour of a large fleet is
# the most one step can cost, however sparse the data before it was.
MAX_WINDOW_US = 3600 * US


@replica_read
def resource_rows(
    series: QuerySet,
    page_size: int,
    descending: bool = True,
    after: tuple[int, int] | None = None,
    since: int | None = None,
    until: int | None = None,
) -> list[Row]:
    """Up to `page_size` + 1 samples of the selected series in (ts, series_id) order, strictly past `after`.

    Samples are keyed by series, not time, so the walk asks every selected
    series for a window of time at once (one index range each) and widens the
    window (up to MAX_WINDOW_US) until the page is full; series whose newest
    sample is older than a window are left out of it, and the walk jumps over
    times no selected series has data for. `since`/`until` are microseconds,
    inclusive and exclusive.
    """
    latest = latest_instants(series)
    if not latest:
        return []
    newest = max(latest.values())
    high = newest if until is None else min(until - 1, newest)
    low = since  # None: unknown until the walk needs it (most first pages never do)
    if after is not None:
        if descending:
            high = min(high, after[0])
        else:
            low = after[0] if low is None else max(low, after[0])
    if low is None and not descending:
        low = _nearest(list(latest), None, False) or 0
    want = page_size + 1
    found: list[tuple[int, int, float]] = []
    window = min(MAX_WINDOW_US, max(US, 10 * US * want // len(latest)))
    first_window = True
    while len(found) < want:
        if descending:
            if low is None and not first_window:
                low = _nearest(list(latest), None, False) or 0  # a second window is needed: find where the data ends
            if low is not None and high < low:
                break
            lo, hi = (high - window + 1) if low is None else max(low, high - window + 1), high
            high = lo - 1
        else:
            if low > high:
                break
            lo, hi = low, min(high, low + window - 1)
            low = hi + 1
        ids = [i for i, ts in latest.items() if ts >= lo]
        if not ids:
            if not descending:
                break  # no selected series has anything this late
            older = [ts for ts in latest.values() if ts < lo]
            if not older:
                break
            high = max(older)  # jump over the time no selected series has data for
            continue
        more = _window(ids, lo, hi, after, descending, want)
        first_window = False
        if not more:
            # An empty window: resume at the nearest sample beyond it rather than a window
            # further on, or one sample dated a year away costs a query per hour between.
            if descending:
                below = [_nearest(ids, lo, True), *(ts for ts in latest.values() if ts < lo)]
                below = [ts for ts in below if ts is not None]
                if not below:
                    break
                high = max(below)
            else:
                resume = _nearest(ids, hi, False)
                if resume is None:
                    break
                low = resume
            continue
        found = _merge_rows(found, more, descending, want)
        window = min(MAX_WINDOW_US, window * 2)
    return _with_names(found)


def _merge_rows(found: list, more: list, descending: bool, want: int) -> list:
    return sorted(found + more, key=lambda r: (r[1], r[0]), reverse=descending)[:want]


def _window(
    ids: list[int], lo: int, hi: int, after: tuple[int, int] | None, descending: bool, want: int
) -> list[tuple]:
    rows: list[tuple] = []
    sign = "-" if descending else ""
    for start in range(0, len(ids), IDS_PER_QUERY):
        picked = Sample.objects.filter(series_id__in=ids[start : start + IDS_PER_QUERY], ts__gte=lo, ts__lte=hi)
        if after is not None:
            ts, series_id = after
            if descending:
                picked = picked.filter(Q(ts__lt=ts) | Q(ts=ts, series_id__lt=series_id))
            else:
                picked = picked.filter(Q(ts__gt=ts) | Q(ts=ts, series_id__gt=series_id))
        rows += picked.order_by(f"{sign}ts", f"{sign}series_id").values_list("series_id", "ts", "value")[:want]
    return rows


def _nearest(ids: list[int], past: int | None, descending: bool) -> int | None:
    """The sample instant of these series nearest beyond `past`: the newest before it (descending) or
    the oldest after it; with `past` None, the oldest of all. None when there is none.

    One index lookup per series, grouped (a loose index scan on MySQL)."""
    pick, edge = (max, Max) if descending else (min, Min)
    nearest = None
    for start in range(0, len(ids), IDS_PER_QUERY):
        picked = Sample.objects.filter(series_id__in=ids[start : start + IDS_PER_QUERY])
        if past is not None:
            picked = picked.filter(ts__lt=past) if descending else picked.filter(ts__gt=past)
        for ts in picked.values("series_id").annotate(edge=edge("ts")).values_list("edge", flat=True):
            nearest = ts if nearest is None else pick(nearest, ts)
    return nearest


def _with_names(found: Iterable[tuple[int, int, float]]) -> list[Row]:
    found = list(found)
    names = {
        series_id: (name, host, description)
        for series_id, name, host, description in Series.objects.filter(
            id__in={series_id for series_id, _, _ in found}
        ).values_list("id", "name", "host", "description")
    }
    return [Row(series_id, ts, value, *names[series_id]) for series_id, ts, value in found if series_id in names]


def resource_row(series_id: int, ts: int) -> Row | None:
    """One sample by its key, with its series."""
    sample = Sample.objects.filter(series_id=series_id, ts=ts).values_list("value", flat=True).first()
    if sample is None:
        return None
    series = Series.objects.filter(id=series_id).values_list("name", "host", "description").first()
    if series is None:
        return None
    return Row(series_id, ts, sample, *series)
