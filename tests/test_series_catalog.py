"""The series catalog: a process that forgot its cache asks again without taking new ids."""

import pytest
from django.db import connection

from monitor.models import Series
from monitor.storage import catalog

pytestmark = pytest.mark.django_db


def next_series_id() -> int:
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute(
                "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
                " AND TABLE_NAME = 'monitor_series'"
            )
        else:
            cursor.execute("SELECT seq + 1 FROM sqlite_sequence WHERE name = 'monitor_series'")
        return int(cursor.fetchone()[0])


def test_asking_again_for_stored_series_takes_no_new_ids():
    wanted = [(f"web-{i % 10}", f"cpu.percent:{i}", "") for i in range(200)]
    first = catalog.series_ids(wanted)
    after_creating = next_series_id()
    for _ in range(3):
        catalog.forget()  # as every process's cache does every CACHE_SECONDS
        assert catalog.series_ids(wanted) == first
    assert next_series_id() == after_creating
    assert Series.objects.count() == 200


def test_a_batch_of_known_and_new_series_creates_only_the_new_ones():
    known = catalog.series_ids([("web-1", "cpu.percent", "")])
    catalog.forget()
    both = catalog.series_ids([("web-1", "cpu.percent", "usage"), ("web-2", "cpu.percent", "")])
    assert both[("web-1", "cpu.percent")] == known[("web-1", "cpu.percent")]
    assert Series.objects.get(host="web-1").description == "usage"
    assert Series.objects.count() == 2 and next_series_id() == max(both.values()) + 1
