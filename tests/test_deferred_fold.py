"""On MySQL the minute and hour rollups are folded after the write, and every answer stays exact meanwhile.

The watermark (monitor/storage/folding.py) splits the samples: below it the
tiers hold every sample, past it the samples wait for the folder and reads take
them raw. These tests write through the real write path (bulk and the
single-sample packet), move the watermark with the real folder, and compare the
tiers and the series answers with plain computations over the stored samples.
"""

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from test_storage_tiers import AGGREGATES, by_hand, close

from monitor.models import FoldWatermark, Rollup, Sample, Series
from monitor.storage.edits import delete_sample, replace_sample
from monitor.storage.folding import MINUTE_US, fold_pending, folded_until, watermark_hint
from monitor.storage.inserts import Point
from monitor.storage.instants import to_us
from monitor.storage.retention import prune
from monitor.storage.rollups import TIERS, aggregate
from samples import point, store, store_many

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
US = 1_000_000
DELAY_US = 60 * US  # ROLLUP_FOLD_DELAY's default


def set_watermark(at: datetime | None) -> None:
    FoldWatermark.objects.update_or_create(id=1, defaults={"until_us": None if at is None else to_us(at)})


def tier_rows() -> dict[tuple, tuple]:
    rows = Rollup.objects.exclude(step=Rollup.LATEST).values_list(
        "series_id", "step", "bucket", "count", "sum", "min", "max", "last", "last_ts"
    )
    return {tuple(row[:3]): tuple(row[3:]) for row in rows}


def assert_tiers_hold_the_samples_below(watermark: int | None) -> None:
    """Each minute and hour row holds exactly the samples of its bucket below `watermark` (None: all)."""
    samples = [
        s for s in Sample.objects.values_list("series_id", "ts", "value") if watermark is None or s[1] < watermark
    ]
    expected = {tuple(b[:3]): tuple(b[3:]) for step in TIERS for b in aggregate(samples, step)}
    stored = tier_rows()
    assert stored.keys() == expected.keys()
    for key, (count, total, low, high, last, last_ts) in stored.items():
        want = expected[key]
        assert (count, low, high, last, last_ts) == (want[0], want[2], want[3], want[4], want[5]), key
        assert total == pytest.approx(want[1], rel=1e-12, abs=1e-9), key


def assert_series_answer_the_raw_computation(rng: random.Random) -> None:
    ids = list(Series.objects.values_list("id", flat=True))
    raw = list(Sample.objects.values_list("series_id", "ts", "value"))
    from monitor.storage.queries import series_points

    for step in (60, 300, 3600):
        for _ in range(3):
            since = to_us(T0) + rng.randint(-1800, 4 * 3600) * US + rng.randint(0, US)
            until = since + rng.randint(1, 4) * 3600 * US + rng.randint(0, 59) * US
            for name in AGGREGATES:
                assert close(series_points(ids, since, until, step, name), by_hand(raw, since, until, step, name)), (
                    step,
                    name,
                )


def history(seed: int, hours: int = 5, series_count: int = 3, samples_each: int = 200) -> list[Point]:
    rng = random.Random(seed)
    points = []
    for s in range(series_count):
        for ms in sorted(rng.sample(range(hours * 3600 * 1000), samples_each)):
            value = rng.choice([rng.uniform(-1e6, 1e6), float(rng.randint(0, 100))])
            points.append(point("fold.test", value, host=f"h{s}", timestamp=T0 + timedelta(milliseconds=ms)))
    rng.shuffle(points)
    return points


@pytest.mark.django_db(transaction=True)  # outside a transaction, one sample takes the one-packet write
def test_samples_past_the_watermark_wait_for_the_folder_and_every_answer_stays_exact(on_mysql):
    watermark = T0 + timedelta(hours=2)
    set_watermark(watermark)
    points = history(1)
    for start in range(0, 500, 250):
        store_many(points[start : start + 250])  # the bulk path
    for p in points[500:]:
        Sample.objects.store([p])  # the single-sample packet
    assert_tiers_hold_the_samples_below(to_us(watermark))
    assert_series_answer_the_raw_computation(random.Random(1))

    report = fold_pending(now_us=to_us(T0 + timedelta(hours=6)) + DELAY_US)
    assert (report.before, report.after) == (to_us(watermark), to_us(T0 + timedelta(hours=6)))
    assert report.samples == sum(1 for p in points if p.ts >= to_us(watermark))
    assert folded_until(connections["default"]) == report.after
    assert_tiers_hold_the_samples_below(None)
    assert_series_answer_the_raw_computation(random.Random(2))


def test_the_folder_stops_a_delay_short_of_now_on_a_minute_boundary(on_mysql):
    set_watermark(T0)
    now = to_us(T0 + timedelta(minutes=30, seconds=45))
    store_many([point("fold.now", 1.0, "h", T0 + timedelta(minutes=m)) for m in range(31)])
    report = fold_pending(now_us=now)
    assert report.after == (now - DELAY_US) // MINUTE_US * MINUTE_US == to_us(T0 + timedelta(minutes=29))
    assert report.samples == 29
    assert_tiers_hold_the_samples_below(report.after)
    assert fold_pending(now_us=now).samples == 0  # nothing more is due


@pytest.mark.django_db(transaction=True)  # outside a transaction, one sample takes the one-packet write
def test_a_late_sample_below_the_watermark_is_folded_by_its_own_write(on_mysql):
    watermark = T0 + timedelta(hours=1)
    set_watermark(watermark)
    late, fresh = watermark - timedelta(seconds=30), watermark + timedelta(seconds=30)
    store("late.one", 2.0, "h", late)  # one sample: the packet decides in MySQL
    store("fresh.one", 3.0, "h", fresh)
    store_many([point("late.many", 4.0, "h", late), point("late.many", 5.0, "h", fresh)])
    by_name = dict(Series.objects.values_list("name", "id"))
    minutes = {
        (s, b): c
        for s, st, b, c in Rollup.objects.filter(step=Rollup.MINUTE).values_list("series_id", "step", "bucket", "count")
    }
    late_minute = to_us(late) // MINUTE_US * 60
    assert minutes == {(by_name["late.one"], late_minute): 1, (by_name["late.many"], late_minute): 1}
    latest = dict(Rollup.objects.filter(step=Rollup.LATEST).values_list("series_id", "last"))
    assert latest == {by_name["late.one"]: 2.0, by_name["fresh.one"]: 3.0, by_name["late.many"]: 5.0}
    assert_tiers_hold_the_samples_below(to_us(watermark))


def test_edits_and_deletes_on_both_sides_of_the_watermark_keep_the_tiers_exact(on_mysql):
    watermark = T0 + timedelta(hours=2)
    set_watermark(watermark)
    rows = store_many(history(3, hours=4, series_count=2, samples_each=120))
    rng = random.Random(3)
    for row in rng.sample(rows, 30):
        delete_sample(row.series_id, row.ts)
    left = list(Sample.objects.values_list("series_id", "ts"))
    for series_id, ts in rng.sample(left, 30):
        moved = ts + rng.choice([-1, 1]) * rng.randint(1, 3600) * US  # may cross the watermark either way
        replace_sample(
            series_id,
            ts,
            point("fold.test", rng.uniform(-5, 5), "edited", T0 + timedelta(microseconds=moved - to_us(T0))),
        )
    assert_tiers_hold_the_samples_below(to_us(watermark))
    assert_series_answer_the_raw_computation(rng)
    fold_pending(now_us=to_us(T0 + timedelta(hours=5)) + DELAY_US)
    assert_tiers_hold_the_samples_below(None)


def test_the_first_run_sets_the_watermark_past_every_sample_already_folded(on_mysql):
    set_watermark(None)
    now = to_us(T0 + timedelta(hours=1, seconds=10))
    store_many([point("first.run", float(m), "h", T0 + timedelta(minutes=m)) for m in range(60)])
    store("first.run", 99.0, "ahead", T0 + timedelta(hours=1, minutes=5, seconds=3))  # a clock running ahead
    before = tier_rows()
    report = fold_pending(now_us=now)
    assert report.before is None and report.samples == 0
    assert report.after == to_us(T0 + timedelta(hours=1, minutes=6))  # past the sample dated ahead
    assert tier_rows() == before  # everything stored so far was folded by its write
    store_many([point("first.run", 7.0, "h", T0 + timedelta(hours=1, minutes=m)) for m in range(6, 20)])
    fold_pending(now_us=to_us(T0 + timedelta(hours=2)))
    assert_tiers_hold_the_samples_below(None)


def test_inline_folding_folds_what_waits_and_sets_the_watermark_back_to_null(on_mysql, settings):
    set_watermark(T0)
    store_many(history(4, hours=1, series_count=2, samples_each=50))
    settings.ROLLUP_FOLD_INLINE = True
    report = fold_pending(now_us=to_us(T0))
    assert report.after is None and report.samples == 100
    assert folded_until(connections["default"]) is None
    store("after.inline", 1.0, "h", T0 + timedelta(minutes=5))  # folds in its write again
    assert_tiers_hold_the_samples_below(None)


@pytest.mark.django_db(transaction=True)  # dropping a partition commits: the flush cleans up after
def test_pruning_keeps_raw_samples_the_folder_has_not_folded(on_mysql):
    set_watermark(T0)
    store_many([point("prune.wait", 1.0, "h", T0 + timedelta(hours=h)) for h in range(3)])
    prune(now=T0 + timedelta(days=30), days={"raw": 1, "minute": 90, "hour": 730})
    assert Sample.objects.count() == 3  # all past the watermark: none folded yet
    fold_pending(now_us=to_us(T0 + timedelta(days=30)))
    prune(now=T0 + timedelta(days=30), days={"raw": 1, "minute": 90, "hour": 730})
    assert Sample.objects.count() == 0
    assert sum(Rollup.objects.filter(step=Rollup.HOUR).values_list("count", flat=True)) == 3


@pytest.mark.django_db(transaction=True)
def test_a_sample_the_folder_passed_since_this_process_last_looked_is_folded_by_its_write(on_mysql):
    set_watermark(T0)
    store("hint.seed", 1.0, "h", T0 + timedelta(hours=2))  # the write reads the watermark: this process saw T0
    assert watermark_hint() == to_us(T0)
    watermark = T0 + timedelta(hours=1)
    set_watermark(watermark)  # as another process's folder would: this process's guess is now stale
    late = T0 + timedelta(minutes=30)
    store("hint.late", 2.0, "h", late)  # believed past: the packet's check fails, the careful path folds it
    assert watermark_hint() == to_us(watermark)  # the careful path read it under its lock
    assert_tiers_hold_the_samples_below(to_us(watermark))
    late_minute = to_us(late) // MINUTE_US * 60
    assert Rollup.objects.get(step=Rollup.MINUTE, bucket=late_minute).count == 1
    assert dict(Rollup.objects.filter(step=Rollup.LATEST).values_list("series__name", "last")) == {
        "hint.seed": 1.0,
        "hint.late": 2.0,
    }


def test_on_tidb_every_write_folds_its_own_samples_and_the_folder_does_nothing(on_mysql, monkeypatch):
    # TiDB takes no shared lock for LOCK IN SHARE MODE: the watermark cannot be kept there.
    monkeypatch.setitem(connections["default"].settings_dict, "ENGINE", "django_tidb")
    set_watermark(None)
    store_many([point("tidb.bulk", 1.0, "h", T0), point("tidb.bulk", 2.0, "h", T0 + timedelta(minutes=1))])
    report = fold_pending(now_us=to_us(T0 + timedelta(hours=1)))
    assert (report.before, report.after, report.samples) == (None, None, 0)
    assert folded_until(connections["default"]) is None
    assert_tiers_hold_the_samples_below(None)


@pytest.mark.django_db(transaction=True)
def test_writers_and_the_folder_running_together_count_every_sample_once(on_mysql):
    set_watermark(T0)
    writers, rounds, series, singles = 3, 12, 150, 300
    errors: list = []
    clock = {"now": to_us(T0)}
    done = threading.Event()

    def write(number: int) -> None:
        try:
            for round_ in range(rounds):
                at = to_us(T0) + (round_ * writers + number) * 10 * US
                late = at - 20 * MINUTE_US  # below the watermark once the folder has passed it
                Sample.objects.store([Point(f"m.{i}", "h", at if i % 5 else late + i, 1.0) for i in range(series)])
                clock["now"] = max(clock["now"], at)
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    def write_one_at_a_time() -> None:  # the one-packet write, past the watermark and below it
        try:
            for k in range(singles):
                at = to_us(T0) + k * 3 * US
                Sample.objects.store([Point(f"one.{k % 7}", "h", at - 20 * MINUTE_US if k % 3 == 0 else at, 2.0)])
                clock["now"] = max(clock["now"], at)
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    def fold() -> None:
        try:
            while not done.is_set():
                fold_pending(now_us=clock["now"] + DELAY_US)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    folder = threading.Thread(target=fold)
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    threads.append(threading.Thread(target=write_one_at_a_time))
    folder.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    done.set()
    folder.join(timeout=60)
    assert errors == []
    fold_pending(now_us=to_us(T0 + timedelta(hours=2)))
    assert Sample.objects.count() == writers * rounds * series + singles
    assert_tiers_hold_the_samples_below(None)
    FoldWatermark.objects.filter(id=1).update(until_us=None)


def test_a_folder_far_behind_jumps_over_time_without_samples(on_mysql):
    set_watermark(T0 - timedelta(days=300))
    store_many([point("far.behind", float(m), "h", T0 + timedelta(minutes=m)) for m in range(10)])
    report = fold_pending(now_us=to_us(T0 + timedelta(hours=1)))
    assert report.samples == 10
    assert report.seconds < 5  # 43,000 ten-minute spans would take minutes
    assert_tiers_hold_the_samples_below(None)


def test_alert_windows_count_the_samples_the_folder_has_not_folded_yet(on_mysql):
    from monitor.alerts import lookups

    now = to_us(T0 + timedelta(minutes=10, seconds=25)) // US
    set_watermark(T0 + timedelta(minutes=8))
    rng = random.Random(5)
    store_many([point("cpu.percent", rng.uniform(0, 100), "h", T0 + timedelta(seconds=10 * k)) for k in range(63)])
    (series_id,) = Series.objects.values_list("id", flat=True)
    samples = list(Sample.objects.values_list("ts", "value"))
    readings = lookups.read([series_id], [60, 300], now)
    for window in (60, 300):
        inside = [v for ts, v in samples if now - window <= ts // (60 * US) * 60 <= now]
        count, total, low, high = readings.windows[window][series_id]
        assert (count, low, high) == (len(inside), min(inside), max(inside))
        assert total == pytest.approx(sum(inside))
    assert readings.latest[series_id] == (samples[-1][1], samples[-1][0])
