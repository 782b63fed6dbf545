"""The rollup tiers answer exactly what the raw samples do, and stay exact through edits and deletes.

Random samples (several series, hosts, irregular times, repeats of instants
refused) are stored through the write path; every series query is then
computed twice, through the tiers and over the raw samples alone, and
compared with a plain Python computation of the same buckets.
"""

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.models import Rollup, Sample, Series
from monitor.storage import catalog
from monitor.storage.edits import delete_sample, replace_sample
from monitor.storage.instants import to_us
from monitor.storage.queries import HOUR, MINUTE, plan, series_points
from monitor.storage.rollups import aggregate
from samples import point, store_many

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
US = 1_000_000
AGGREGATES = ("avg", "min", "max", "last", "count")


def by_hand(samples: list[tuple[int, int, float]], since: int, until: int, step: int, aggregate_name: str) -> list:
    buckets: dict[int, list[tuple[int, int, float]]] = {}
    for series_id, ts, value in samples:
        if since <= ts < until:
            buckets.setdefault(ts // (step * US) * step, []).append((ts, series_id, value))
    result = []
    for bucket in sorted(buckets):
        rows = buckets[bucket]
        values = [value for _, _, value in rows]
        figure = {
            "avg": sum(values) / len(values),
            "min": min(values),
            "max": max(values),
            "count": float(len(values)),
            "last": max(rows)[2],
        }[aggregate_name]
        result.append((bucket, figure))
    return result


def close(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        x[0] == y[0] and abs(x[1] - y[1]) <= 1e-9 * max(1.0, abs(x[1]), abs(y[1])) for x, y in zip(a, b, strict=True)
    )


def random_history(seed: int, series_count: int = 4, samples_each: int = 400, span_hours: int = 5) -> None:
    rng = random.Random(seed)
    points = []
    for s in range(series_count):
        instants = sorted(rng.sample(range(span_hours * 3600 * 1000), samples_each))  # millisecond resolution
        for ms in instants:
            value = rng.choice([rng.uniform(-1e6, 1e6), float(rng.randint(0, 100)), 0.0])
            points.append(point("tier.test", value, host=f"h{s % 3}", timestamp=T0 + timedelta(milliseconds=ms)))
    rng.shuffle(points)  # arrival order is not time order
    for start in range(0, len(points), 250):
        store_many(points[start : start + 250])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_step_and_aggregate_from_the_tiers_equals_the_raw_computation(seed):
    random_history(seed)
    ids = list(Series.objects.values_list("id", flat=True))
    raw = list(Sample.objects.values_list("series_id", "ts", "value"))
    rng = random.Random(seed)
    for step in (60, 120, 300, 3600, 7200):
        for _ in range(3):
            # Unaligned edges on purpose: they come from the finer tier or the raw samples.
            since = to_us(T0) + rng.randint(-3600, 3 * 3600) * US + rng.randint(0, US)
            until = since + rng.randint(1, 5) * 3600 * US + rng.randint(0, 59) * US
            for name in AGGREGATES:
                tiered = series_points(ids, since, until, step, name)
                assert close(tiered, by_hand(raw, since, until, step, name)), (step, name, since, until)


def test_whole_buckets_are_read_from_the_coarsest_tier_that_divides_the_step():
    since, until = to_us(T0 + timedelta(seconds=30)), to_us(T0 + timedelta(hours=3, seconds=10))
    parts = [(source.seconds, lo, hi) for source, lo, hi in plan(since, until, 3600)]
    hour, minute = HOUR.seconds, MINUTE.seconds
    assert [seconds for seconds, _, _ in parts] == [0, minute, hour, 0]
    assert parts[2][1:] == (to_us(T0 + timedelta(hours=1)), to_us(T0 + timedelta(hours=3)))
    # A step that no tier divides reads raw samples only.
    assert [source.seconds for source, _, _ in plan(since, until, 90)] == [0]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 7200), st.floats(-1e9, 1e9)), min_size=1, max_size=60, unique_by=lambda t: t[0])
)
def test_the_stored_rollups_equal_an_aggregation_of_the_samples(items):
    Sample.objects.all().delete()
    Rollup.objects.all().delete()
    Series.objects.all().delete()
    catalog.forget()
    store_many(point("prop", value, timestamp=T0 + timedelta(seconds=second)) for second, value in items)
    raw = list(Sample.objects.values_list("series_id", "ts", "value"))
    for step in (Rollup.MINUTE, Rollup.HOUR):
        expected = sorted(aggregate(raw, step))
        stored = sorted(
            Rollup.objects.filter(step=step).values_list(
                "series_id", "step", "bucket", "count", "sum", "min", "max", "last", "last_ts"
            )
        )
        assert [row[:4] + row[5:] for row in stored] == [row[:4] + row[5:] for row in expected]
        assert all(abs(a[4] - b[4]) <= 1e-6 * max(1.0, abs(b[4])) for a, b in zip(stored, expected, strict=True))


def test_edits_and_deletes_leave_the_tiers_equal_to_the_samples():
    random_history(7, series_count=2, samples_each=200, span_hours=2)
    rng = random.Random(7)
    keys = list(Sample.objects.values_list("series_id", "ts"))
    for series_id, ts in rng.sample(keys, 20):
        delete_sample(series_id, ts)
    for series_id, ts in rng.sample(list(Sample.objects.values_list("series_id", "ts")), 20):
        series = Series.objects.get(id=series_id)
        moved = point(
            series.name, rng.uniform(-5, 5), host=series.host, timestamp=T0 + timedelta(seconds=rng.randint(0, 7199))
        )
        try:
            replace_sample(series_id, ts, moved)
        except Exception as exc:  # the new instant was taken: a refused edit changes nothing
            assert type(exc).__name__ == "Conflict"
    raw = list(Sample.objects.values_list("series_id", "ts", "value"))
    ids = list(Series.objects.values_list("id", flat=True))
    for name in AGGREGATES:
        tiered = series_points(ids, to_us(T0), to_us(T0 + timedelta(hours=2)), 3600, name)
        assert close(tiered, by_hand(raw, to_us(T0), to_us(T0 + timedelta(hours=2)), 3600, name)), name
    for series_id in ids:
        newest = Sample.objects.filter(series_id=series_id).order_by("-ts").values_list("ts", "value").first()
        latest = Rollup.objects.get(series_id=series_id, step=Rollup.LATEST)
        assert (latest.last_ts, latest.last) == newest


def test_a_repeated_batch_stores_nothing_twice():
    points = [point("repeat", i, host="agent", timestamp=T0 + timedelta(seconds=i)) for i in range(50)]
    store_many(points)
    store_many(points)  # an agent resending after a timeout
    assert Sample.objects.count() == 50
    assert Rollup.objects.get(step=Rollup.HOUR).count == 50


def test_a_batch_with_a_new_series_and_a_repeat_counts_each_sample_once():
    # The new series is created before the write's transaction, the repeat sends the
    # write down its careful path: each sample still lands in the rollups exactly once.
    store_many([point("known", 1.0, timestamp=T0)])
    store_many([point("known", 1.0, timestamp=T0), point("brand.new", 2.0, timestamp=T0)])
    counts = dict(Rollup.objects.filter(step=Rollup.MINUTE).values_list("series__name", "count"))
    assert counts == {"known": 1, "brand.new": 1}
    assert Sample.objects.count() == 2
