"""GET /monitor/resources/: keyset pages, filters, ordering."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from samples import point, store, store_many

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def rows():
    """25 rows, five per timestamp, so ties on timestamp must be broken by series."""
    stored = store_many(
        point(name=f"m.{i % 3}", value=i, timestamp=T0 + timedelta(seconds=i // 5), host=f"h{i % 2}") for i in range(25)
    )
    return sorted(stored, key=lambda row: (row.ts, row.series_id), reverse=True)


def walk(client, url):
    """Follow next links to the end; returns the ids in the order received."""
    ids, pages = [], 0
    while url:
        body = client.get(url).json()
        ids += [r["id"] for r in body["results"]]
        url, pages = body["next"], pages + 1
        assert pages < 100
    return ids


def test_it_pages_newest_first_without_skipping_or_repeating_rows(client, rows):
    ids = walk(client, f"{URL}?page_size=4")
    assert ids == [r.id for r in rows]


def test_it_pages_oldest_first_when_asked(client, rows):
    ids = walk(client, f"{URL}?page_size=7&ordering=timestamp")
    assert ids == [r.id for r in reversed(rows)]


def test_the_previous_link_returns_the_page_before(client, rows):
    first = client.get(f"{URL}?page_size=4").json()
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    back = client.get(second["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]


def test_rows_inserted_while_paging_do_not_shift_the_pages(client, rows):
    first = client.get(f"{URL}?page_size=5").json()
    # New samples arrive (newer than everything) between two page requests.
    store_many(point(name="new", value=0, timestamp=T0 + timedelta(hours=1)) for _ in range(7))
    ids = [r["id"] for r in first["results"]] + walk(client, first["next"])
    assert ids == [r.id for r in rows]


def test_a_deep_page_costs_what_the_first_page_costs(client, rows):
    # The series bound, their newest instants, one window of samples, their names: four queries
    # wherever the page starts.
    with CaptureQueriesContext(connection) as first_queries:
        first = client.get(f"{URL}?page_size=5").json()
    with CaptureQueriesContext(connection) as next_queries:
        assert client.get(first["next"]).status_code == 200
    assert len(first_queries) == len(next_queries) == 4


def test_it_bounds_the_page_size(client, rows):
    assert client.get(f"{URL}?page_size=1001").status_code == 400
    assert "page_size" in client.get(f"{URL}?page_size=0").json()
    assert len(client.get(URL).json()["results"]) == 25


def test_it_rejects_a_forged_cursor(client, rows):
    response = client.get(f"{URL}?cursor=not-a-cursor")
    assert response.status_code == 400
    assert "cursor" in response.json()


def test_it_filters_by_name_host_and_prefix(client, rows):
    by_name = client.get(f"{URL}?name=m.1").json()["results"]
    assert by_name and {r["name"] for r in by_name} == {"m.1"}
    by_host = client.get(f"{URL}?host=h0").json()["results"]
    assert len(by_host) == 13 and {r["host"] for r in by_host} == {"h0"}
    store(name="disk.used_percent:/", value=1, timestamp=T0)
    assert [r["name"] for r in client.get(f"{URL}?name_prefix=disk.").json()["results"]] == ["disk.used_percent:/"]


def test_it_filters_by_time_range(client, rows):
    since = (T0 + timedelta(seconds=1)).isoformat()
    until = (T0 + timedelta(seconds=3)).isoformat()
    results = client.get(URL, {"since": since, "until": until}).json()["results"]
    assert len(results) == 10
    assert all(since <= r["timestamp"].replace("Z", "+00:00") < until for r in results)
    assert "since" in client.get(URL, {"since": "last tuesday"}).json()


def test_the_api_root_lists_the_resources_endpoint(client):
    assert "resources" in client.get("/monitor/").json()


def test_on_mariadb_a_page_over_more_than_1000_series_reads_each_series_by_time_range(client, on_mysql):
    """MariaDB rewrites an IN list of 1,000 values or more into a join (in_predicate_conversion_threshold),
    which read every sample of every series for one page: seconds at 10M samples (BENCHMARKS.md)."""
    if not connection.mysql_is_mariadb:
        pytest.skip("MySQL has no IN-list conversion")
    store_many(point(name=f"m.{i}", value=i, timestamp=T0, host="h") for i in range(1100))
    with CaptureQueriesContext(connection) as queries:
        body = client.get(f"{URL}?page_size=10").json()
    assert len(body["results"]) == 10
    reads = [q["sql"] for q in queries.captured_queries if "monitor_sample" in q["sql"] and " IN (" in q["sql"]]
    assert reads and max(read.count(",") for read in reads) >= 1000, "the page no longer names >= 1,000 series"
    with connection.cursor() as cursor:
        for read in reads:
            cursor.execute("EXPLAIN " + re.sub(r"^SET STATEMENT \S+ FOR ", "", read))
            tables = [str(row[2]) for row in cursor.fetchall()]
            assert not [t for t in tables if t.startswith("<")], f"IN list turned into a join: {tables}"
