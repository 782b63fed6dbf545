"""Rows of numbers written into the statement as text (monitor/storage/bulk.py) read back exactly."""

import math

import pytest
from django.db import DatabaseError, connection

from monitor.models import Rollup, Sample
from monitor.storage.inserts import Point, store

pytestmark = pytest.mark.django_db

# Doubles whose shortest decimal form is long, tiny, huge or negative, and integers near 2**53.
EXACT = [0.1, 1 / 3, 2 / 3, -123.456, 1e-300, 2.2250738585072014e-308, 1.7976931348623157e308, 0.0, 2.0**53, 7, -1]


def test_every_double_reads_back_bit_for_bit():
    keys = store([Point("exact.value", "numeric-host", 1_764_000_000_000_000 + i, v) for i, v in enumerate(EXACT)])
    stored = dict(Sample.objects.filter(series_id=keys[0][0]).values_list("ts", "value"))
    assert [stored[ts] for _, ts in keys] == [float(v) for v in EXACT]
    latest = Rollup.objects.get(series_id=keys[0][0], step=Rollup.LATEST)
    assert (latest.last, latest.last_ts) == (-1.0, keys[-1][1])
    minute = Rollup.objects.get(series_id=keys[0][0], step=Rollup.MINUTE)
    assert (minute.count, minute.sum) == (len(EXACT), sum(float(v) for v in EXACT))


@pytest.mark.skipif(connection.vendor != "mysql", reason="SQLite stores infinities; the API refuses them first")
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_mysql_refuses_a_value_that_is_no_finite_number_is_refused_and_nothing_stored(value):
    with pytest.raises(DatabaseError):  # as mysqlclient refuses them (ProgrammingError)
        store(
            [
                Point("finite.ok", "numeric-host", 1_764_000_000_000_000, 1.0),
                Point("not.finite", "numeric-host", 1_764_000_000_000_000, value),
            ]
        )
    assert not Sample.objects.exists()
