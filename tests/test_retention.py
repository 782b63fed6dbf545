"""Retention per tier: raw samples, per-minute and per-hour rollups each go after their own number of days.

On SQLite rows go in batches along each series' key; on MySQL whole time
partitions are dropped (and created ahead), and no row is deleted one by one.
Collection-cycle markers go with the raw samples.
"""

import io
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitor.collection.tasks import prune_old_resources
from monitor.models import CollectionCycle, Rollup, Sample
from monitor.storage import partitions
from monitor.storage.retention import prune
from samples import point, store_many

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
KEEP = {"raw": 7, "minute": 90, "hour": 730}


def _history(now: datetime, ages_in_days: list[float], name: str = "cpu.percent", host: str = "h1") -> None:
    store_many(point(name, i, host=host, timestamp=now - timedelta(days=age)) for i, age in enumerate(ages_in_days))


def _rows(step: int | None) -> int:
    if step is None:
        return Sample.objects.count()
    return Rollup.objects.filter(step=step).count()


@pytest.fixture
def row_by_row(db) -> None:
    """The tests of batched deletes: tables without partitions (SQLite; MySQL goes by partitions, tested below)."""
    if partitions.is_partitioned(partitions.RAW):
        pytest.skip("partitioned: whole partitions go instead (see the MySQL tests)")


def _cycles(ages_in_days: list[float], now: datetime) -> None:
    CollectionCycle.objects.bulk_create(
        CollectionCycle(task_id=f"t{i}", host="h1", stored_at=now - timedelta(days=age), rows=1)
        for i, age in enumerate(ages_in_days)
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("row_by_row")
def test_each_tier_keeps_its_own_number_of_days():
    # Samples 1, 10, 100 and 1000 days old: raw keeps 7 days, minutes 90, hours 730.
    _history(NOW, [1, 10, 100, 1000])
    assert (_rows(None), _rows(Rollup.MINUTE), _rows(Rollup.HOUR)) == (4, 4, 4)

    reports = {r.tier: r for r in prune(now=NOW, days=KEEP)}

    assert (_rows(None), _rows(Rollup.MINUTE), _rows(Rollup.HOUR)) == (1, 2, 3)
    assert (reports["raw"].rows, reports["minute"].rows, reports["hour"].rows) == (3, 2, 1)
    assert reports["raw"].cutoff == NOW - 7 * DAY
    # What stayed is the newest of each tier; the latest value is never pruned.
    assert Sample.objects.get().value == 0.0
    assert Rollup.objects.filter(step=Rollup.LATEST).count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("row_by_row")
def test_dry_run_says_what_each_tier_would_lose_and_removes_nothing():
    _history(NOW, [1, 10, 100, 1000])
    reports = {r.tier: r.rows for r in prune(now=NOW, days=KEEP, dry_run=True)}
    assert reports == {"raw": 3, "minute": 2, "hour": 1}
    assert (_rows(None), _rows(Rollup.MINUTE), _rows(Rollup.HOUR)) == (4, 4, 4)


@pytest.mark.django_db
@pytest.mark.usefixtures("row_by_row")
def test_rows_go_in_batches_along_each_series():
    _history(NOW, [8 + i / 1000 for i in range(25)], name="a")
    _history(NOW, [8 + i / 1000 for i in range(5)], name="b")
    with CaptureQueriesContext(connection) as queries:
        prune(now=NOW, days=KEEP, batch_size=10)
    deletes = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE") and "monitor_sample" in q["sql"]
    ]
    # a: 10 + 10 + 5; b: 5 (each a short statement along the (series_id, ts) key)
    assert len(deletes) == 4
    assert Sample.objects.count() == 0


@pytest.mark.django_db
def test_it_refuses_nonsense_options():
    with pytest.raises(ValueError):
        prune(now=NOW, batch_size=0)
    with pytest.raises(ValueError):
        prune(now=NOW, pause=-1)
    with pytest.raises(ValueError):
        prune(now=NOW, days={"raw": 0})


@pytest.mark.django_db
def test_collection_cycles_go_with_the_raw_samples():
    _cycles([1, 6.9, 7.1, 30], NOW)
    prune(now=NOW, days=KEEP, batch_size=1)
    assert sorted(CollectionCycle.objects.values_list("task_id", flat=True)) == ["t0", "t1"]


@pytest.mark.django_db
def test_the_cycle_prune_reads_an_index_not_the_whole_table():
    plan_sql = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    query = CollectionCycle.objects.filter(stored_at__lt=NOW).order_by("stored_at").values_list("id")[:10]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(plan_sql + sql, params)
        plan = " ".join(str(part) for row in cursor.fetchall() for part in row)
    assert "cycle_stored_at" in plan


@pytest.mark.django_db
@pytest.mark.usefixtures("row_by_row")
def test_the_command_prints_each_tier_and_a_dry_run_changes_nothing(settings):
    settings.RETENTION_RAW_DAYS, settings.RETENTION_MINUTE_DAYS, settings.RETENTION_HOUR_DAYS = 7, 90, 730
    now = timezone.now()
    _history(now, [1, 10, 100, 1000])
    out = io.StringIO()
    call_command("prune", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "raw: would remove 3 rows" in text and "(keeps 7 days)" in text
    assert "minute: would remove 2 rows" in text and "hour: would remove 1 rows" in text
    assert Sample.objects.count() == 4

    out = io.StringIO()
    call_command("prune", "--raw-days", "30", stdout=out)
    assert "raw: removed 2 rows" in out.getvalue()
    assert Sample.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ["--raw-days", "0"],
        ["--days", "-5"],
        ["--batch-size", "0"],
        ["--pause", "-1"],
        ["--hour-days", "0"],
        ["--raw-days", "999999999"],
        ["--hour-days", "100000000"],
    ],
)
def test_the_command_rejects_out_of_range_options(args):
    with pytest.raises(CommandError):
        call_command("prune", *args, stdout=io.StringIO())


@pytest.mark.django_db
@pytest.mark.usefixtures("row_by_row")
def test_the_scheduled_task_prunes_by_the_retention_settings(settings):
    settings.RETENTION_RAW_DAYS = 7
    now = timezone.now()
    _history(now, [1, 8])
    _cycles([1, 8], now)
    assert prune_old_resources() >= 1
    assert Sample.objects.count() == 1
    assert CollectionCycle.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("row_by_row")
def test_writers_carry_on_while_a_backlog_is_pruned():
    """Other connections write and read between batches; nothing waits for the whole prune."""
    _history(NOW, [8 + i / 10_000 for i in range(300)])
    written = {}

    def write() -> None:
        try:
            store_many([point("inserted.meanwhile", 1.0, host="api", timestamp=NOW)])
            written["ok"] = Sample.objects.filter(series__name="inserted.meanwhile").count()
        except Exception as exc:  # reported below
            written["error"] = exc
        finally:
            connections.close_all()

    def progress(tier: str, removed: int) -> None:
        if tier == "raw" and "thread" not in written:
            written["thread"] = threading.Thread(target=write)
            written["thread"].start()
            written["thread"].join(10)

    prune(now=NOW, days=KEEP, batch_size=50, progress=progress)
    assert "error" not in written, written.get("error")
    assert written["ok"] == 1
    assert Sample.objects.filter(series__name="inserted.meanwhile").count() == 1


# --- MySQL: partitions ---------------------------------------------------------------------------


@pytest.fixture
def as_migrated(on_mysql, transactional_db) -> None:
    """The tables partitioned as `migrate` leaves them, before and after: dropped and added partitions
    outlive a test's rows, and a later test's days would land in another partition than it expects."""
    partitions.partition_tables(timezone.now(), timezone.now())
    yield
    partitions.partition_tables(timezone.now(), timezone.now())


@pytest.mark.usefixtures("as_migrated")
def test_on_mysql_partitions_are_made_ahead_and_a_day_is_dropped_whole():
    now = timezone.now()
    created = partitions.ensure_partitions(now + 10 * DAY)
    assert any(name.startswith("monitor_sample.p") for name in created)
    names = [name for name, _ in partitions.partitions(partitions.RAW)]
    assert f"p{(now + 14 * DAY):%Y%m%d}" in names  # the period holding now + 10 days, and 3 ahead
    assert partitions.ensure_partitions(now + 10 * DAY) == []  # nothing left to make

    _history(now + 5 * DAY, [0], name="partitioned")  # goes: its whole day is past the cutoff
    _history(now + 13 * DAY, [0.5], name="partitioned")  # stays
    started = time.perf_counter()
    reports = {r.tier: r for r in prune(now=now + 13 * DAY, days={"raw": 7, "minute": 90, "hour": 730})}
    elapsed = time.perf_counter() - started
    assert reports["raw"].partitions, "whole partitions were dropped"
    assert Sample.objects.count() == 1
    assert elapsed < 5.0
    assert all(name not in {n for n, _ in partitions.partitions(partitions.RAW)} for name in reports["raw"].partitions)


@pytest.mark.usefixtures("as_migrated")
def test_on_mysql_a_partly_expired_partition_keeps_its_rows_and_no_row_is_deleted():
    now = timezone.now()
    partitions.ensure_partitions(now + 10 * DAY)
    # Noon: the "partly" sample an hour before the cutoff must fall on the cutoff's day (run
    # between 00:00 and 01:00 UTC, an hour before the cutoff was the day before, and it went).
    at = (now + 13 * DAY).replace(hour=12, minute=0, second=0, microsecond=0)
    cutoff = at - 7 * DAY
    day_of_cutoff = datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC)
    _history(day_of_cutoff, [0.5])  # the day before the cutoff's: all of it past the cutoff, goes
    _history(cutoff, [1 / 24], name="partly")  # past the cutoff, but its day is not: stays with the day
    _history(at, [0], name="recent")
    with CaptureQueriesContext(connection) as queries:
        (raw, *_) = prune(now=at, days=KEEP)
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("DELETE")]
    assert not [sql for sql in deletes if "monitor_sample" in sql or "monitor_rollup" in sql], deletes
    assert sorted(Sample.objects.values_list("series__name", flat=True)) == ["partly", "recent"]
    assert f"p{day_of_cutoff:%Y%m%d}" in raw.partitions
    kept, goes_at = raw.next_partition
    assert kept == f"p{day_of_cutoff + DAY:%Y%m%d}"
    assert goes_at == day_of_cutoff + DAY + 7 * DAY  # once all of that day is 7 days old

    # A day later that partition is past the cutoff too, and goes whole.
    (raw, *_) = prune(now=at + DAY, days=KEEP)
    assert kept in raw.partitions
    assert list(Sample.objects.values_list("series__name", flat=True)) == ["recent"]


@pytest.mark.usefixtures("as_migrated")
def test_on_mysql_the_command_says_which_partitions_would_go_and_when_the_next_does(settings):
    settings.RETENTION_RAW_DAYS = 7
    now = timezone.now()
    partitions.ensure_partitions(now)
    out = io.StringIO()
    call_command("prune", "--dry-run", stdout=out)
    text = out.getvalue()
    first, upper = partitions.partitions(partitions.RAW)[0]
    assert "raw: would remove 0 rows older than" in text
    goes_at = (partitions.RAW.at(upper) + 7 * DAY).isoformat()
    assert f"the oldest kept, {first}, goes once all of it is past the cutoff, from {goes_at}" in text
