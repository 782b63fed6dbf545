"""One sample written on its own: one round trip on MySQL, and still counted once however often it is resent.

These tests commit (transaction=True): the one-trip path runs only outside a
caller's transaction, which the usual test transaction would be.
"""

from datetime import UTC, datetime, timedelta

import MySQLdb
import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from monitor.models import Host, Rollup, Sample
from monitor.storage.inserts import Conflict, forget_hosts
from monitor.storage.instants import to_us
from samples import point, store

pytestmark = pytest.mark.django_db(transaction=True)
T0 = datetime(2026, 11, 25, 0, 0, 30, tzinfo=UTC)


def buckets() -> dict[int, tuple]:
    rows = Rollup.objects.values_list("step", "count", "sum", "min", "max", "last")
    return {row[0]: tuple(row[1:]) for row in rows}


def test_a_sample_sent_alone_reaches_every_tier_and_the_latest_value():
    store("cpu.percent", 12.5, timestamp=T0)
    store("cpu.percent", 7.25, timestamp=T0 + timedelta(seconds=10))
    assert buckets() == {
        Rollup.LATEST: (1, 7.25, 7.25, 7.25, 7.25),
        Rollup.MINUTE: (2, 19.75, 7.25, 12.5, 7.25),
        Rollup.HOUR: (2, 19.75, 7.25, 12.5, 7.25),
    }


def test_a_sample_resent_alone_is_stored_and_counted_once():
    store("cpu.percent", 12.5, timestamp=T0)
    before = buckets()
    for _ in range(3):  # an agent retrying after a timeout
        store("cpu.percent", 12.5, timestamp=T0)
    assert Sample.objects.count() == 1
    assert buckets() == before


def test_another_value_at_a_stored_instant_is_refused_and_changes_nothing():
    store("cpu.percent", 12.5, timestamp=T0)
    before = buckets()
    with pytest.raises(Conflict):
        store("cpu.percent", 99.0, timestamp=T0)
    assert list(Sample.objects.values_list("value", flat=True)) == [12.5]
    assert buckets() == before


def test_an_older_sample_sent_alone_leaves_the_latest_value_alone():
    store("cpu.percent", 12.5, timestamp=T0)
    store("cpu.percent", 3.0, timestamp=T0 - timedelta(hours=2))
    latest = Rollup.objects.get(step=Rollup.LATEST)
    assert (latest.last, latest.last_ts) == (12.5, to_us(T0))
    assert Rollup.objects.filter(step=Rollup.HOUR).count() == 2


def test_a_sample_sent_alone_records_its_host_whatever_its_name_holds():
    name = "web-1'; DROP TABLE monitor_host; -- 100%s"
    forget_hosts()
    store("cpu.percent", 12.5, host=name, timestamp=T0)
    host = Host.objects.get(name=name)
    assert (host.first_seen, host.last_seen) == (T0, T0)
    forget_hosts()
    store("cpu.percent", 13.5, host=name, timestamp=T0 + timedelta(seconds=10))
    assert Host.objects.get(name=name).last_seen == T0 + timedelta(seconds=10)


@pytest.mark.skipif("connection.vendor != 'mysql'", reason="one round trip is MySQL's multi-statement packet")
def test_on_mysql_a_sample_sent_alone_with_a_host_to_record_costs_one_round_trip():
    store("cpu.percent", 1.0, host="web-1", timestamp=T0)  # creates the series (its own statements)
    forget_hosts()  # the host is due again
    with CaptureQueriesContext(connection) as queries:
        Sample.objects.store([point("cpu.percent", 2.0, host="web-1", timestamp=T0 + timedelta(seconds=10))])
    assert len(queries.captured_queries) == 1
    assert Host.objects.get(name="web-1").last_seen == T0 + timedelta(seconds=10)


@pytest.mark.skipif("connection.vendor != 'mysql'", reason="one round trip is MySQL's multi-statement packet")
def test_on_mysql_a_sample_sent_alone_costs_one_round_trip():
    store("cpu.percent", 1.0, timestamp=T0)  # creates the series (its own statements)
    with CaptureQueriesContext(connection) as queries:
        Sample.objects.store([point("cpu.percent", 2.0, timestamp=T0 + timedelta(seconds=10))])
    assert len(queries.captured_queries) == 1
    assert queries.captured_queries[0]["sql"].startswith("START TRANSACTION;")


@pytest.mark.skipif("connection.vendor != 'mysql'", reason="one round trip is MySQL's multi-statement packet")
def test_on_mysql_a_packet_that_fails_after_its_insert_stores_nothing_and_is_retried():
    # Another connection holds the series' latest value: the packet's INSERT succeeds, its
    # fold waits and times out. The sample must not stay behind without its rollups.
    store("cpu.percent", 1.0, timestamp=T0)
    series_id = Sample.objects.get().series_id
    params = connection.get_connection_params()
    blocker = MySQLdb.connect(**{k: v for k, v in params.items() if k != "client_flag"})
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
    try:
        with blocker.cursor() as held:
            held.execute("START TRANSACTION")
            held.execute("SELECT * FROM monitor_rollup WHERE series_id = %s AND step = 0 FOR UPDATE", [series_id])
            with pytest.raises(OperationalError) as failed:
                store("cpu.percent", 2.0, timestamp=T0 + timedelta(seconds=10))
            assert failed.value.args[0] == 1205  # lock wait timeout, after the write's retries
            assert list(Sample.objects.values_list("value", flat=True)) == [1.0]
            held.execute("ROLLBACK")
        store("cpu.percent", 2.0, timestamp=T0 + timedelta(seconds=10))  # the same sample, once the row is free
        assert buckets()[Rollup.MINUTE][:2] == (2, 3.0)
    finally:
        blocker.close()
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION innodb_lock_wait_timeout = DEFAULT")
