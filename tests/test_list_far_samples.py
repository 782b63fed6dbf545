"""The list walks over empty time in one step: a sample dated far from the others costs no query per hour between.

A client may date a sample years ahead (a clock gone wrong) or decades back. The
list reads samples by windows of time; before, every window between such a sample
and the rest was asked for, one query per hour: a year ahead took 23 s for a page
and a year past 9999 held a worker forever.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from samples import point, store_many

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def far_apart():
    """Five samples now, one a year ahead, one in 1971, one in 9999; newest first."""
    rows = store_many(
        [
            *(point("cpu.percent", i, host="web-1", timestamp=NOW + timedelta(seconds=10 * i)) for i in range(5)),
            point("cpu.percent", 99, host="skewed", timestamp=NOW + timedelta(days=365)),
            point("uptime", 1, host="old", timestamp=datetime(1971, 1, 1, tzinfo=UTC)),
            point("uptime", 2, host="far", timestamp=datetime(9999, 12, 31, tzinfo=UTC)),
        ]
    )
    return sorted(rows, key=lambda row: (row.ts, row.series_id), reverse=True)


def walk(client, url: str) -> tuple[list[str], int]:
    """The ids of every page in turn, and the most queries one page took."""
    ids, most = [], 0
    while url:
        with CaptureQueriesContext(connection) as queries:
            body = client.get(url).json()
        most = max(most, len(queries))
        ids += [r["id"] for r in body["results"]]
        url = body["next"]
        assert len(ids) < 100
    return ids, most


def test_newest_first_pages_jump_over_the_years_between_samples(client, far_apart):
    ids, most = walk(client, f"{URL}?page_size=2")
    assert ids == [row.id for row in far_apart]
    assert most <= 12


def test_oldest_first_pages_jump_over_the_decades_between_samples(client, far_apart):
    ids, most = walk(client, f"{URL}?page_size=2&ordering=timestamp")
    assert ids == [row.id for row in reversed(far_apart)]
    assert most <= 12


def test_a_time_range_past_the_far_samples_stops_at_its_bounds(client, far_apart):
    since = (NOW - timedelta(days=1)).isoformat()
    until = (NOW + timedelta(days=30)).isoformat()
    with CaptureQueriesContext(connection) as queries:
        body = client.get(URL, {"since": since, "until": until, "page_size": 10}).json()
    assert [r["value"] for r in body["results"]] == [4, 3, 2, 1, 0]
    assert len(queries) <= 12


def test_a_range_starting_centuries_before_the_samples_answers_in_a_few_queries(client, far_apart):
    with CaptureQueriesContext(connection) as queries:
        body = client.get(URL, {"name": "cpu.percent", "since": "0001-01-01T00:00:00Z", "page_size": 10}).json()
    assert [r["value"] for r in body["results"]] == [99, 4, 3, 2, 1, 0]
    assert len(queries) <= 12
    with CaptureQueriesContext(connection) as queries:
        body = client.get(URL, {"name": "uptime", "since": "0001-01-01T00:00:00Z", "ordering": "timestamp"}).json()
    assert [r["value"] for r in body["results"]] == [1, 2]
    assert len(queries) <= 12
