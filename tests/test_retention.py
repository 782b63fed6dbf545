"""Retention: raw rows older than the cutoff go, in batches of short transactions.

Runs on SQLite by default and on MySQL with DATABASE_URL=mysql://...
"""

import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitor.models import CollectionCycle, Resource
from monitor.storage.retention import count_prunable, prune_cycles, prune_resources, retention_cutoff

NOW = datetime(2024, 6, 30, 12, 0, 0, 500000, tzinfo=UTC)
CUTOFF = retention_cutoff(30, now=NOW)


def _rows(count: int, newest: datetime, name: str = "cpu.percent") -> list[Resource]:
    """`count` rows one second apart, the newest stamped `newest`."""
    rows = [Resource(name=name, value=i, timestamp=newest - timedelta(seconds=i), host="h1") for i in range(count)]
    return Resource.objects.bulk_create(rows)


def _cycles(count: int, newest: datetime, host: str = "h1") -> list[CollectionCycle]:
    """`count` cycle markers one second apart, the newest stored at `newest`."""
    cycles = [
        CollectionCycle(task_id=f"{host}-{newest.timestamp()}-{i}", host=host, stored_at=newest - timedelta(seconds=i))
        for i in range(count)
    ]
    return CollectionCycle.objects.bulk_create(cycles)


def _deletes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("DELETE")]


class _Stop(Exception):
    pass


class _Tty(StringIO):
    def isatty(self) -> bool:
        return True


def test_the_cutoff_is_that_many_days_before_now():
    assert retention_cutoff(30, now=NOW) == NOW - timedelta(days=30)
    assert abs(retention_cutoff(1) - (timezone.now() - timedelta(days=1))) < timedelta(seconds=5)
    with pytest.raises(ValueError):
        retention_cutoff(0)


@pytest.mark.django_db
def test_it_deletes_rows_older_than_the_cutoff_and_keeps_the_rest():
    _rows(3, CUTOFF - timedelta(microseconds=1), name="old")
    _rows(1, CUTOFF - timedelta(days=400), name="ancient")
    _rows(1, CUTOFF, name="at_cutoff")
    _rows(2, CUTOFF + timedelta(seconds=2), name="new")
    _rows(1, NOW, name="now")

    deleted = prune_resources(CUTOFF)

    assert deleted == 4
    assert sorted(Resource.objects.values_list("name", flat=True)) == ["at_cutoff", "new", "new", "now"]
    assert Resource.objects.get(name="at_cutoff").timestamp == CUTOFF


@pytest.mark.django_db
def test_it_deletes_in_batches_of_two_statements_each():
    _rows(25, CUTOFF - timedelta(seconds=1), name="old")
    _rows(5, NOW, name="new")
    seen: list[int] = []

    with CaptureQueriesContext(connection) as queries:
        deleted = prune_resources(CUTOFF, batch_size=10, progress=seen.append)

    assert deleted == 25
    assert seen == [10, 20, 25]
    assert len(_deletes(queries)) == 3
    # One id read and one DELETE per batch: never a fetch of the rows or a statement per row.
    assert len(queries.captured_queries) == 6, [q["sql"] for q in queries.captured_queries]
    assert Resource.objects.filter(name="old").count() == 0
    assert Resource.objects.filter(name="new").count() == 5


@pytest.mark.django_db
def test_it_deletes_the_oldest_rows_first():
    _rows(15, CUTOFF - timedelta(seconds=1), name="old")
    oldest_kept = Resource.objects.order_by("timestamp", "id")[10]

    def stop_after_first_batch(done: int) -> None:
        raise _Stop

    with pytest.raises(_Stop):
        prune_resources(CUTOFF, batch_size=10, progress=stop_after_first_batch)

    assert Resource.objects.order_by("timestamp", "id").first() == oldest_kept
    assert Resource.objects.count() == 5


@pytest.mark.django_db
def test_it_rejects_a_batch_size_below_one():
    with pytest.raises(ValueError):
        prune_resources(CUTOFF, batch_size=0)


@pytest.mark.django_db
def test_dry_run_counts_and_deletes_nothing():
    _rows(25, timezone.now() - timedelta(days=31), name="old")
    _rows(5, timezone.now(), name="new")
    out = StringIO()

    with CaptureQueriesContext(connection) as queries:
        call_command("prune", "--days", "30", "--dry-run", stdout=out)

    assert count_prunable(retention_cutoff(30)) == 25
    assert _deletes(queries) == []
    assert Resource.objects.count() == 30
    line = out.getvalue().strip()
    assert line.startswith("would delete 25 rows and 0 collection cycles older than ")
    cutoff = datetime.fromisoformat(line.removeprefix("would delete 25 rows and 0 collection cycles older than "))
    assert abs(cutoff - (timezone.now() - timedelta(days=30))) < timedelta(seconds=5)


@pytest.mark.django_db
def test_the_command_prints_progress_and_a_final_line():
    _rows(50, timezone.now() - timedelta(days=8), name="old")
    _rows(5, timezone.now(), name="new")
    out = StringIO()

    call_command("prune", "--days", "7", "--batch-size", "10", stdout=out)

    lines = out.getvalue().splitlines()
    # Not a terminal: one line per 10% step (batches of 20% each here), no carriage returns.
    assert "\r" not in out.getvalue()
    assert lines[0].startswith("[##........] 20% 10/50 rows, ")
    assert lines[0].endswith(" rows/s")
    assert lines[4].startswith("[##########] 100% 50/50 rows, ")
    assert len(lines) == 6
    assert lines[5].startswith("deleted 50 rows and 0 collection cycles older than ")
    assert lines[5].endswith("s")
    assert " in " in lines[5]
    assert Resource.objects.filter(name="old").count() == 0
    assert Resource.objects.filter(name="new").count() == 5


@pytest.mark.django_db
def test_the_command_redraws_the_bar_in_place_on_a_terminal():
    _rows(30, timezone.now() - timedelta(days=31), name="old")
    out = _Tty()

    call_command("prune", "--batch-size", "10", stdout=out)

    text = out.getvalue()
    assert text.count("\r[") == 3
    assert "\r[##########] 100% 30/30 rows, " in text
    assert text.splitlines()[-1].startswith("deleted 30 rows and 0 collection cycles older than ")
    assert Resource.objects.count() == 0


@pytest.mark.django_db
def test_the_command_uses_retention_days_from_settings(settings):
    settings.RETENTION_DAYS = 3
    _rows(4, timezone.now() - timedelta(days=3, seconds=10), name="old")
    _rows(4, timezone.now() - timedelta(days=2), name="kept")
    out = StringIO()

    call_command("prune", stdout=out)

    assert out.getvalue().splitlines()[-1].startswith("deleted 4 rows and 0 collection cycles older than ")
    assert sorted(set(Resource.objects.values_list("name", flat=True))) == ["kept"]


@pytest.mark.django_db
@pytest.mark.parametrize("args", [["--days", "0"], ["--days", "-5"], ["--batch-size", "0"], ["--pause", "-1"]])
def test_the_command_rejects_out_of_range_options(args):
    _rows(3, timezone.now() - timedelta(days=400), name="old")

    with pytest.raises(CommandError, match="must"):
        call_command("prune", *args, stdout=StringIO())

    assert Resource.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_other_connections_write_and_see_committed_batches_between_batches():
    _rows(25, CUTOFF - timedelta(seconds=1), name="old")
    seen_from_thread: dict[str, object] = {}

    def other_client() -> None:
        # Each thread gets its own database connection in Django.
        from django.db import connection as own

        try:
            Resource.objects.create(name="inserted.meanwhile", value=1.0, timestamp=NOW, host="api")
            seen_from_thread["old_left"] = Resource.objects.filter(timestamp__lt=CUTOFF).count()
        except Exception as exc:  # reported by the assertions below
            seen_from_thread["error"] = exc
        finally:
            own.close()

    def between_batches(done: int) -> None:
        if done != 10:
            return
        thread = threading.Thread(target=other_client)
        thread.start()
        thread.join(timeout=5)
        seen_from_thread["finished"] = not thread.is_alive()

    deleted = prune_resources(CUTOFF, batch_size=10, progress=between_batches)

    assert seen_from_thread.get("finished") is True, "the other connection was blocked by the prune"
    assert "error" not in seen_from_thread, seen_from_thread["error"]
    # The first batch was already committed: another connection no longer sees its rows.
    assert seen_from_thread["old_left"] == 15
    assert deleted == 25
    assert list(Resource.objects.values_list("name", flat=True)) == ["inserted.meanwhile"]


@pytest.mark.django_db
def test_the_scheduled_task_prunes_by_the_retention_setting(settings):
    from monitor.collection.tasks import prune_old_resources

    settings.RETENTION_DAYS = 7
    now = timezone.now()
    Resource.objects.bulk_create(
        [Resource(name="old", value=1, timestamp=now - timedelta(days=8)), Resource(name="new", value=1, timestamp=now)]
    )
    assert prune_old_resources() == 1
    assert list(Resource.objects.values_list("name", flat=True)) == ["new"]


@pytest.mark.django_db
def test_it_deletes_collection_cycles_older_than_the_cutoff_and_keeps_the_rest():
    _cycles(3, CUTOFF - timedelta(microseconds=1), host="old")
    _cycles(1, CUTOFF, host="at_cutoff")
    _cycles(2, NOW, host="new")

    assert prune_cycles(CUTOFF) == 3

    assert sorted(CollectionCycle.objects.values_list("host", flat=True)) == ["at_cutoff", "new", "new"]


@pytest.mark.django_db
def test_it_deletes_collection_cycles_in_batches_of_two_statements_each():
    _cycles(25, CUTOFF - timedelta(seconds=1), host="old")
    _cycles(5, NOW, host="new")

    with CaptureQueriesContext(connection) as queries:
        assert prune_cycles(CUTOFF, batch_size=10) == 25

    assert len(_deletes(queries)) == 3
    assert len(queries.captured_queries) == 6, [q["sql"] for q in queries.captured_queries]
    assert set(CollectionCycle.objects.values_list("host", flat=True)) == {"new"}


@pytest.mark.django_db
def test_the_cycle_prune_reads_an_index_not_the_whole_table():
    cutoff = connection.ops.adapt_datetimefield_value(CUTOFF)
    table = connection.ops.quote_name(CollectionCycle._meta.db_table)
    sql = f"SELECT id FROM {table} WHERE stored_at < %s ORDER BY stored_at, id LIMIT 10"
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", [cutoff])
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            assert "INDEX cycle_stored_at" in plan and "TEMP B-TREE" not in plan, plan
        else:
            cursor.execute(f"EXPLAIN {sql}", [cutoff])
            columns = [c[0] for c in cursor.description]
            plan = dict(zip(columns, cursor.fetchone(), strict=True))
            assert plan["key"] == "cycle_stored_at", plan


@pytest.mark.django_db
def test_the_command_prunes_collection_cycles_with_the_rows():
    _rows(4, timezone.now() - timedelta(days=8), name="old")
    _cycles(6, timezone.now() - timedelta(days=8), host="old")
    _cycles(2, timezone.now(), host="new")
    out = StringIO()

    call_command("prune", "--days", "7", "--batch-size", "4", stdout=out)

    assert out.getvalue().splitlines()[-1].startswith("deleted 4 rows and 6 collection cycles older than ")
    assert set(CollectionCycle.objects.values_list("host", flat=True)) == {"new"}


@pytest.mark.django_db
def test_dry_run_counts_collection_cycles_and_deletes_none():
    _rows(2, timezone.now() - timedelta(days=31), name="old")
    _cycles(3, timezone.now() - timedelta(days=31), host="old")
    out = StringIO()

    call_command("prune", "--dry-run", stdout=out)

    assert out.getvalue().startswith("would delete 2 rows and 3 collection cycles older than ")
    assert CollectionCycle.objects.count() == 3


@pytest.mark.django_db
def test_the_scheduled_task_prunes_collection_cycles_too(settings):
    from monitor.collection.tasks import prune_old_resources

    settings.RETENTION_DAYS = 7
    _cycles(2, timezone.now() - timedelta(days=8), host="old")
    _cycles(1, timezone.now(), host="new")

    prune_old_resources()

    assert list(CollectionCycle.objects.values_list("host", flat=True)) == ["new"]
