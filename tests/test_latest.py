"""GET /monitor/resources/latest/: the newest row of each (name, host)."""

from datetime import UTC, datetime, timedelta

import pytest

from samples import point, store, store_many

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/latest/"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def history():
    rows = []
    for minute in range(5):
        for host in ("a", "b"):
            for name in ("cpu.percent", "disk.used_percent:/"):
                rows.append(point(name=name, host=host, value=minute, timestamp=T0 + timedelta(minutes=minute)))
    store_many(rows)


def test_it_returns_one_newest_row_per_name_and_host(client, history):
    body = client.get(URL).json()
    assert len(body) == 4
    assert {(r["host"], r["name"]) for r in body} == {
        ("a", "cpu.percent"),
        ("a", "disk.used_percent:/"),
        ("b", "cpu.percent"),
        ("b", "disk.used_percent:/"),
    }
    assert all(r["value"] == 4 for r in body)


def test_it_filters_by_host_and_name_prefix(client, history):
    body = client.get(URL, {"host": "b", "name_prefix": "disk."}).json()
    assert [(r["host"], r["name"], r["value"]) for r in body] == [("b", "disk.used_percent:/", 4)]


def test_a_series_holds_one_value_per_instant_so_a_second_one_is_refused(client, history):
    # The narrow layout keys samples by (series, instant): what was a tie is now a conflict.
    body = {"name": "cpu.percent", "host": "a", "value": 99, "timestamp": (T0 + timedelta(minutes=4)).isoformat()}
    response = client.post("/monitor/resources/", body, content_type="application/json")
    assert response.status_code == 409
    assert "already stored" in response.json()["timestamp"][0]
    assert [r["value"] for r in client.get(URL, {"host": "a", "name": "cpu.percent"}).json()] == [4]


def test_it_costs_two_queries_whatever_the_number_of_series(client, history, django_assert_num_queries):
    # Their catalog rows (at most one past the API_MAX_SERIES bound, no COUNT first), their latest values.
    with django_assert_num_queries(2):
        client.get(URL)


def test_names_differing_in_case_or_trailing_space_are_separate_series(client):
    for name in ("CPU.percent", "cpu.percent", "cpu.percent "):
        store(name=name, host="h", value=1, timestamp=T0)
    assert len(client.get(URL, {"host": "h"}).json()) == 3
    assert [r["name"] for r in client.get("/monitor/resources/", {"name": "cpu.percent"}).json()["results"]] == [
        "cpu.percent"
    ]


def test_more_series_than_the_bound_asks_for_a_filter(client, history, settings):
    settings.API_MAX_SERIES = 3
    response = client.get(URL)
    assert response.status_code == 400
    assert "API_MAX_SERIES" in response.json()["detail"][0]
    assert client.get(URL, {"host": "a"}).status_code == 200  # two series
    assert client.get("/monitor/resources/").status_code == 400


@pytest.mark.parametrize("by_key_max", [0, 1000], ids=["whole-partition", "by-key"])
def test_both_ways_of_reading_latest_values_answer_the_same_sorted_by_host_then_name(
    client, history, monkeypatch, by_key_max
):
    from monitor.storage import queries

    monkeypatch.setattr(queries, "LATEST_BY_KEY_MAX", by_key_max)
    everything = client.get(URL).json()
    assert [(r["host"], r["name"]) for r in everything] == [
        ("a", "cpu.percent"),
        ("a", "disk.used_percent:/"),
        ("b", "cpu.percent"),
        ("b", "disk.used_percent:/"),
    ]
    assert client.get(URL, {"host": "b"}).json() == everything[2:]
