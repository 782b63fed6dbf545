"""Samples sent without a timestamp take the server's clock, and never clash over it.

Concurrent clients posting one series without timestamps (the notes' curl, a load
test, several instances of one app) can arrive in the same microsecond. Each must
be stored: before, the second was taken for a resend (same value: answered 201 with
the first one's id, stored nothing) or refused with a 409 naming a timestamp it
never sent. These tests commit (transaction=True) so that on MySQL a single POST
takes its one-round-trip path, where a taken instant first shows as a duplicate key.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from monitor.models import Rollup, Sample
from monitor.storage.instants import to_us
from samples import store

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/monitor/resources/"
NOW = datetime(2026, 11, 25, 10, 0, 0, 500_000, tzinfo=UTC)
STAMP = "2026-11-25T10:00:00.500000Z"


@pytest.fixture
def frozen_clock(monkeypatch) -> datetime:
    """Every request arrives at the same microsecond."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


def post(client, body):
    return client.post(URL, body, content_type="application/json")


def stored() -> list[tuple[int, float]]:
    return list(Sample.objects.order_by("ts").values_list("ts", "value"))


def test_two_posts_at_one_server_instant_with_different_values_are_both_stored_a_microsecond_apart(
    client, frozen_clock
):
    first = post(client, {"name": "CPU Usage", "value": 75.5})
    second = post(client, {"name": "CPU Usage", "value": 80.0})
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["timestamp"] == STAMP
    assert second.json()["timestamp"] == "2026-11-25T10:00:00.500001Z"
    assert first.json()["id"] != second.json()["id"]
    assert stored() == [(to_us(NOW), 75.5), (to_us(NOW) + 1, 80.0)]
    assert client.get(URL + second.json()["id"] + "/").json()["value"] == 80.0


def test_the_same_value_posted_twice_at_one_server_instant_is_two_samples_in_every_tier(client, frozen_clock):
    answers = [post(client, {"name": "CPU Usage", "value": 75.5}) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 3
    assert stored() == [(to_us(NOW) + k, 75.5) for k in range(3)]
    counts = dict(Rollup.objects.exclude(step=Rollup.LATEST).values_list("step", "count"))
    assert counts == {Rollup.MINUTE: 3, Rollup.HOUR: 3}


def test_a_server_timed_post_moves_past_a_sample_stored_with_that_timestamp(client, frozen_clock):
    store("CPU Usage", 1.0, timestamp=NOW)
    store("CPU Usage", 2.0, timestamp=NOW + timedelta(microseconds=1))
    answer = post(client, {"name": "CPU Usage", "value": 3.0})
    assert answer.status_code == 201
    assert answer.json()["timestamp"] == "2026-11-25T10:00:00.500002Z"
    assert stored() == [(to_us(NOW), 1.0), (to_us(NOW) + 1, 2.0), (to_us(NOW) + 2, 3.0)]


def test_a_client_timed_post_at_a_stored_instant_still_repeats_or_conflicts(client, frozen_clock):
    post(client, {"name": "CPU Usage", "value": 75.5})
    assert post(client, {"name": "CPU Usage", "value": 75.5, "timestamp": STAMP}).status_code == 201
    assert post(client, {"name": "CPU Usage", "value": 1.0, "timestamp": STAMP}).status_code == 409
    assert stored() == [(to_us(NOW), 75.5)]


def test_bulk_items_of_one_series_without_timestamps_are_stored_in_batch_order(client, frozen_clock):
    answer = post(client, [{"name": "a", "value": v} for v in (3.0, 1.0, 2.0)] + [{"name": "b", "value": 9.0}])
    assert answer.status_code == 201, answer.json()
    assert answer.json() == {"created": 4}
    rows = client.get(URL, {"name": "a"}).json()["results"]  # newest first
    assert [(r["timestamp"][-7:], r["value"]) for r in rows] == [
        ("500002Z", 2.0),
        ("500001Z", 1.0),
        ("500000Z", 3.0),
    ]
    assert client.get(URL, {"name": "b"}).json()["results"][0]["timestamp"] == STAMP


def test_a_server_timed_bulk_item_yields_its_instant_to_an_item_that_names_it(client, frozen_clock):
    answer = post(client, [{"name": "a", "value": 1.0}, {"name": "a", "value": 2.0, "timestamp": STAMP}])
    assert answer.status_code == 201, answer.json()
    assert stored() == [(to_us(NOW), 2.0), (to_us(NOW) + 1, 1.0)]


def test_a_bulk_conflict_with_a_stored_sample_names_the_item_by_its_place_in_the_request(client):
    stamp = "2026-11-25T12:00:00Z"
    post(client, {"name": "a", "value": 5, "timestamp": stamp})  # series `a` sorts first: it was created first
    body = [{"name": "z", "value": 1, "timestamp": stamp}, {"name": "a", "value": 6, "timestamp": stamp}]
    answer = post(client, body)
    assert answer.status_code == 409
    assert list(answer.json()["items"]) == ["1"]
    assert "(5.0) is already stored" in answer.json()["items"]["1"]["timestamp"][0]
    assert Sample.objects.count() == 1


def test_a_bulk_conflict_within_the_batch_names_both_items_by_their_place_in_the_request(client):
    stamp = "2026-11-25T12:00:00Z"
    post(client, {"name": "a", "value": 5, "timestamp": "2026-11-25T11:00:00Z"})
    body = [
        {"name": "z", "value": 1, "timestamp": stamp},
        {"name": "a", "value": 1, "timestamp": stamp},
        {"name": "a", "value": 2, "timestamp": stamp},
    ]
    answer = post(client, body)
    assert answer.status_code == 409
    assert answer.json()["items"] == {
        "2": {"timestamp": ["Another value for this series and timestamp is in the same batch (item 1)."]}
    }
    assert Sample.objects.count() == 1


def test_a_server_timed_post_gives_up_with_a_409_after_ten_taken_instants_in_a_row(client, frozen_clock):
    for k in range(11):
        store("CPU Usage", 1.0, timestamp=NOW + timedelta(microseconds=k))
    answer = post(client, {"name": "CPU Usage", "value": 3.0})
    assert answer.status_code == 409
    assert "No free instant" in answer.json()["timestamp"][0]
    assert Sample.objects.count() == 11
