"""Properties of sample validation (monitor.serializers) over generated input.

parse_sample / parse_samples check every write; ResourceSerializer checks
updates. For any input they either accept it, with exactly the value sent, or
reject it with a SampleErrors (a DRF-shaped error dict) naming the field, and
what they accept can be stored and read back. Through the API, a rejected
request leaves the table as it was.
"""

import json
import math
from datetime import UTC, datetime

import pytest
from django.db import transaction
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from answers import assert_names_what_was_wrong
from monitor.api.serializers import (
    HOST_MAX,
    NAME_MAX,
    SAMPLE_FIELDS,
    ResourceSerializer,
    SampleErrors,
    parse_sample,
    parse_samples,
)
from monitor.models import Resource, Rollup, Sample, Series
from monitor.storage import catalog
from monitor.storage.inserts import Point
from monitor.storage.instants import from_us
from samples import store
from strategies import moments, rfc3339

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
URL = "/monitor/resources/"
FAST = settings(max_examples=200, deadline=None)
# Tests that touch the database or the API: fewer examples, function-scoped fixtures reused.
THROUGH_DB = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# --- strategies ---------------------------------------------------------------------------------
# What storage accepts: finite, at most 1e300 either way (monitor/storage/inserts.py MAX_ABS_VALUE).
FINITE = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False)
BEYOND_RANGE = st.floats(min_value=1e300, allow_infinity=False).filter(lambda x: x > 1e300) | st.floats(
    max_value=-1e300, allow_infinity=False
).filter(lambda x: x < -1e300)
# Any code point, with lone surrogates (JSON can carry them: "\ud800") and NUL made common.
ANY_CHAR = st.one_of(st.characters(exclude_categories=()), st.characters(categories=["Cs"]), st.just("\x00"))
ANY_TEXT = st.text(ANY_CHAR, max_size=30)
SPACE = st.sampled_from(["", " ", "\t", "\n ", "  "])


def _is_float_text(text: str) -> bool:
    try:
        float(text.strip())
    except (ValueError, OverflowError):
        return False
    return True


# Text forms of finite numbers, as agents print them, with optional surrounding blanks.
NUMERIC_TEXT = st.builds(
    lambda before, number, after: f"{before}{number}{after}",
    SPACE,
    st.one_of(
        FINITE.map(repr),
        FINITE.map(str),
        FINITE.map(lambda x: f"{x:.6e}"),
        st.integers(-(10**300), 10**300).map(str),
        st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    ),
    SPACE,
)
NON_FINITE = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 10**400, -(10**400)]),
    st.builds(
        lambda before, word, after: f"{before}{word}{after}",
        SPACE,
        st.sampled_from(["NaN", "nan", "-nan", "Infinity", "-Infinity", "inf", "-INF", "1e400", "-1e999", "2E308"]),
        SPACE,
    ),
)
NON_NUMERIC = st.one_of(
    st.booleans(),
    st.none(),
    st.lists(FINITE, max_size=3),
    st.dictionaries(st.text(max_size=5), FINITE, max_size=3),
    ANY_TEXT.filter(lambda text: not _is_float_text(text)),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(ANY_TEXT, children, max_size=3),
    max_leaves=8,
)
# Text fields refuse NUL, as DRF does; names must not be blank once trimmed.
NO_NUL = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
NAMES = st.text(NO_NUL, min_size=1, max_size=NAME_MAX).filter(lambda name: name.strip())


MOMENTS = moments(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)))
ISO_TIMES = st.builds(rfc3339, MOMENTS, st.integers(-1439, 1439))
# Samples an agent could plausibly send, every field at its edges.
EDGY_SAMPLES = st.fixed_dictionaries(
    {"name": st.text(ANY_CHAR, min_size=1, max_size=NAME_MAX), "value": FINITE},
    optional={
        "description": ANY_TEXT,
        "host": st.text(ANY_CHAR, max_size=HOST_MAX),
        "timestamp": ISO_TIMES,
    },
)
VALID_SAMPLES = st.fixed_dictionaries(
    {"name": NAMES, "value": FINITE | NUMERIC_TEXT},
    optional={
        "description": st.text(NO_NUL, max_size=30),
        "host": st.text(NO_NUL, max_size=HOST_MAX),
        "timestamp": st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ).map(lambda moment: moment.isoformat()),
    },
)
INVALID_SAMPLES = st.one_of(
    VALID_SAMPLES.map(lambda sample: {k: v for k, v in sample.items() if k != "name"}),
    VALID_SAMPLES.map(lambda sample: {k: v for k, v in sample.items() if k != "value"}),
    st.builds(lambda sample, bad: {**sample, "value": bad}, VALID_SAMPLES, NON_FINITE | NON_NUMERIC),
    st.builds(lambda sample: {**sample, "name": "n" * (NAME_MAX + 1)}, VALID_SAMPLES),
    st.builds(lambda sample: {**sample, "timestamp": "yesterday"}, VALID_SAMPLES),
    JSON.filter(lambda value: not isinstance(value, dict)),
)


def wipe() -> None:
    """Examples of one test share its database: each starts from an empty store."""
    Sample.objects.all().delete()
    Rollup.objects.all().delete()
    Series.objects.all().delete()
    catalog.forget()


def rejected_fields(data) -> set[str]:
    with pytest.raises(SampleErrors) as caught:
        parse_sample(data, NOW)
    errors = caught.value.errors
    assert errors and all(isinstance(m, str) for messages in errors.values() for m in messages), errors
    return set(errors)


def serializer_errors(data) -> dict:
    serializer = ResourceSerializer(data=data)
    assert not serializer.is_valid(), serializer.validated_data
    return serializer.errors


# --- value ----------------------------------------------------------------------------------------
@FAST
@given(FINITE)
def test_any_finite_float_round_trips(value):
    assert parse_sample({"name": "m", "value": value}, NOW).value == value
    serializer = ResourceSerializer(data={"name": "m", "value": value})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data.value == value


@FAST
@given(NUMERIC_TEXT)
def test_any_numeric_string_is_read_as_its_number(text):
    expected = float(text.strip())
    assume(math.isfinite(expected))  # e.g. "1" followed by 300 zeros is finite; checked anyway
    assert parse_sample({"name": "m", "value": text}, NOW).value == expected
    serializer = ResourceSerializer(data={"name": "m", "value": text})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data.value == expected


@FAST
@given(st.integers(-(10**300), 10**300))
def test_any_integer_in_float_range_is_accepted(number):
    assert parse_sample({"name": "m", "value": number}, NOW).value == float(number)


@FAST
@given(NON_FINITE)
def test_a_non_finite_value_is_rejected_naming_value(value):
    assert rejected_fields({"name": "m", "value": value}) == {"value"}
    assert set(serializer_errors({"name": "m", "value": value})) == {"value"}


@FAST
@given(BEYOND_RANGE)
def test_a_value_beyond_1e300_is_rejected_naming_value(value):
    assert rejected_fields({"name": "m", "value": value}) == {"value"}


@FAST
@given(NON_NUMERIC)
def test_a_non_numeric_value_is_rejected_naming_value(value):
    assert rejected_fields({"name": "m", "value": value}) == {"value"}
    assert set(serializer_errors({"name": "m", "value": value})) == {"value"}


# --- name -----------------------------------------------------------------------------------------
@FAST
@given(NAMES)
def test_a_name_of_1_to_200_characters_is_accepted_and_trimmed(name):
    # Surrounding whitespace is trimmed, as DRF's CharField does on PUT/PATCH.
    assert parse_sample({"name": name, "value": 1}, NOW).name == name.strip()


@FAST
@given(st.text(min_size=NAME_MAX + 1, max_size=2 * NAME_MAX).filter(lambda name: len(name.strip()) > NAME_MAX))
def test_a_name_over_200_characters_is_rejected_naming_name(name):
    # Over 200 once trimmed: surrounding whitespace is dropped before the length check, as in DRF.
    assert rejected_fields({"name": name, "value": 1}) == {"name"}
    assert set(serializer_errors({"name": name, "value": 1})) == {"name"}


# --- anything at all ------------------------------------------------------------------------------
@FAST
@given(st.dictionaries(st.sampled_from(sorted(SAMPLE_FIELDS)) | ANY_TEXT, JSON, max_size=7))
def test_arbitrary_json_in_any_field_raises_nothing_but_sample_errors(data):
    try:
        row = parse_sample(data, NOW)
    except SampleErrors as exc:
        assert set(exc.errors) <= SAMPLE_FIELDS, exc.errors
    else:
        assert isinstance(row, Point)
    ResourceSerializer(data=data).is_valid()  # returns, never raises


@FAST
@given(JSON.filter(lambda value: not isinstance(value, dict)))
def test_anything_but_an_object_is_rejected_as_a_whole(data):
    assert rejected_fields(data) == {"non_field_errors"}


@THROUGH_DB
@given(sample=EDGY_SAMPLES)
@pytest.mark.django_db
def test_an_accepted_sample_can_be_stored_and_read_back(sample):
    """What the validator lets through must never make the database (or the answer) fail."""
    note(f"sample: {json.dumps(sample)}")  # escaped: lone surrogates print
    try:
        row = parse_sample(sample, NOW)
    except SampleErrors:
        return
    wipe()
    with transaction.atomic():  # a failed example must not poison the next one's transaction
        ((series_id, ts),) = Sample.objects.store([row])
        stored = Resource.objects.get(id=f"{series_id}-{ts}")
    assert (stored.name, stored.value, stored.description, stored.host) == (
        row.name,
        row.value,
        row.description,
        row.host,
    )
    assert stored.timestamp == from_us(row.ts)


# --- bulk: all or nothing -------------------------------------------------------------------------
@FAST
@given(st.lists(st.tuples(st.booleans(), st.data()), min_size=1, max_size=12))
def test_parse_samples_is_all_or_nothing_naming_each_bad_index(plan):
    items = [data.draw(VALID_SAMPLES if good else INVALID_SAMPLES) for good, data in plan]
    bad = {str(index) for index, (good, _) in enumerate(plan) if not good}
    if not bad:
        assert len(parse_samples(items, NOW)) == len(items)
        return
    with pytest.raises(SampleErrors) as caught:
        parse_samples(items, NOW)
    assert set(caught.value.errors) == bad


# --- through the API ------------------------------------------------------------------------------
BODIES = st.one_of(
    EDGY_SAMPLES,
    INVALID_SAMPLES,
    st.lists(st.one_of(VALID_SAMPLES, INVALID_SAMPLES, EDGY_SAMPLES), min_size=0, max_size=5),
    JSON,
)


@THROUGH_DB
@given(body=BODIES)
@pytest.mark.django_db
def test_a_rejected_post_leaves_the_table_unchanged(client, body):
    note(f"body: {json.dumps(body)}")
    wipe()
    before = Resource.objects.count()
    with transaction.atomic():
        response = client.post(URL, json.dumps(body), content_type="application/json")
    # 409: two items of one batch for one series and instant with different values
    assert response.status_code in (201, 400, 409), response.content[:500]
    after = Resource.objects.count()
    if response.status_code == 201:
        created = response.json().get("created", 1)
        assert after == before + created
    else:
        assert after == before
        assert_names_what_was_wrong(response.json())


@THROUGH_DB
@given(body=st.dictionaries(st.sampled_from(sorted(SAMPLE_FIELDS)), JSON, max_size=5) | JSON)
@pytest.mark.django_db
def test_a_rejected_update_leaves_the_row_unchanged(client, body):
    note(f"body: {json.dumps(body)}")
    wipe()
    row = store(name="cpu.percent", value=1.5, host="web-1", description="d", timestamp=NOW)
    with transaction.atomic():
        response = client.patch(f"{URL}{row.id}/", json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400), response.content[:500]
    if response.status_code == 400:
        stored = Resource.objects.get(id=row.id)
        assert (stored.name, stored.value, stored.host, stored.description, stored.timestamp) == (
            "cpu.percent",
            1.5,
            "web-1",
            "d",
            NOW,
        )
