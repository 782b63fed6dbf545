"""GET /monitor/resources/series/: buckets computed in the database, checked by hand."""

from datetime import UTC, datetime, timedelta

import pytest

from samples import point, store, store_many

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/series/"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EPOCH0 = int(T0.timestamp())


@pytest.fixture
def samples():
    """cpu.percent on host a every 20 s for 3 minutes: values 0..8; noise on other series."""
    rows = [point(name="cpu.percent", host="a", value=i, timestamp=T0 + timedelta(seconds=20 * i)) for i in range(9)]
    rows += [point(name="cpu.percent", host="b", value=1000, timestamp=T0 + timedelta(seconds=5))]
    rows += [point(name="load.1m", host="a", value=-1, timestamp=T0 + timedelta(seconds=5))]
    store_many(rows)


def series(client, **params):
    base = {
        "name": "cpu.percent",
        "host": "a",
        "since": T0.isoformat(),
        "until": (T0 + timedelta(minutes=3)).isoformat(),
    }
    query = {k: v for k, v in {**base, **params}.items() if v is not None}
    return client.get(URL, query)


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [
        ("avg", [1.0, 4.0, 7.0]),  # minute buckets hold values 0,1,2 / 3,4,5 / 6,7,8
        ("min", [0.0, 3.0, 6.0]),
        ("max", [2.0, 5.0, 8.0]),
        ("last", [2.0, 5.0, 8.0]),
        ("count", [3.0, 3.0, 3.0]),
    ],
)
def test_each_aggregate_matches_values_computed_by_hand(client, samples, aggregate, expected):
    response = series(client, step="1m", aggregate=aggregate)
    assert response.status_code == 200, response.json()
    points = response.json()["points"]
    assert [p[0] for p in points] == [EPOCH0, EPOCH0 + 60, EPOCH0 + 120]
    assert [p[1] for p in points] == expected


def test_last_is_the_newest_value_not_the_largest(client, samples):
    store(name="cpu.percent", host="a", value=-5, timestamp=T0 + timedelta(seconds=59))
    points = series(client, step="60s", aggregate="last").json()["points"]
    assert points[0] == [EPOCH0, -5.0]


def test_buckets_align_to_the_step_and_skip_empty_ones(client, samples):
    points = series(client, step="40s", aggregate="count").json()["points"]
    # Buckets start at multiples of 40 s since the epoch; every 20 s sample lands in one.
    assert all(t % 40 == 0 for t, _ in points)
    assert sum(v for _, v in points) == 9


def test_without_host_it_aggregates_every_host(client, samples):
    points = series(client, step="1h", aggregate="max", host=None).json()
    assert points["points"][0][1] == 1000.0


@pytest.mark.parametrize("step", ["0s", "abc", "5x", "-1m", ""])
def test_an_invalid_step_is_a_400_that_says_why(client, samples, step):
    response = series(client, step=step)
    assert response.status_code == 400
    assert "step" in response.json()


def test_too_many_points_is_a_400_that_says_why(client, samples):
    response = series(client, step="1s", since="2026-11-24T00:00:00Z", until="2026-11-25T00:00:00Z")
    assert response.status_code == 400
    assert "11000" in response.json()["step"][0]


def test_it_requires_a_name_and_a_known_aggregate(client):
    assert "name" in client.get(URL).json()
    assert "aggregate" in client.get(URL, {"name": "x", "aggregate": "median"}).json()
