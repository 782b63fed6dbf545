"""Rejected writes: a 400 whose JSON body names the field, and nothing stored."""

import pytest

from monitor.models import Resource

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/"


def post_raw(client, body: str):
    return client.post(URL, body, content_type="application/json")


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "x", "value": NaN}',
        '{"name": "x", "value": Infinity}',
        '{"name": "x", "value": -Infinity}',
        '{"name": "x", "value": 1e400}',
        '{"name": "x", "value": "NaN"}',
        '{"name": "x", "value": "nan"}',
        '{"name": "x", "value": "Infinity"}',
        '{"name": "x", "value": "-inf"}',
        '{"name": "x", "value": "1e400"}',
        '{"name": "x", "value": "seventy"}',
        '{"name": "x", "value": true}',
        '{"name": "x", "value": null}',
        '{"name": "x", "value": [1]}',
    ],
)
def test_it_rejects_a_value_that_is_not_a_finite_number(client, body):
    response = post_raw(client, body)
    assert response.status_code == 400
    assert "value" in response.json()
    assert Resource.objects.count() == 0


@pytest.mark.parametrize("missing", ["name", "value"])
def test_it_rejects_a_missing_field_by_name(client, missing):
    body = {"name": "cpu.percent", "value": 1.0}
    del body[missing]
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert missing in response.json()
    assert Resource.objects.count() == 0


def test_it_rejects_a_name_over_200_characters(client):
    response = client.post(URL, {"name": "n" * 201, "value": 1}, content_type="application/json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert Resource.objects.count() == 0


def test_it_accepts_a_name_of_exactly_200_characters(client):
    response = client.post(URL, {"name": "n" * 200, "value": 1}, content_type="application/json")
    assert response.status_code == 201


@pytest.mark.parametrize("stamp", ["yesterday", "2026-13-01T00:00:00Z", "2026-11-25 25:00", ""])
def test_it_rejects_an_unparseable_timestamp(client, stamp):
    response = client.post(URL, {"name": "x", "value": 1, "timestamp": stamp}, content_type="application/json")
    assert response.status_code == 400
    assert "timestamp" in response.json()
    assert Resource.objects.count() == 0


@pytest.mark.parametrize("body", ['{"name": "x", "value": 1', "not json", "{'name': 'x'}"])
def test_it_rejects_malformed_json_with_a_json_error(client, body):
    response = post_raw(client, body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - ")
    assert Resource.objects.count() == 0


def test_an_empty_json_body_is_a_sample_without_its_required_fields(client):
    response = post_raw(client, "")
    assert response.status_code == 400
    assert response.json() == {"name": ["This field is required."], "value": ["This field is required."]}
    assert Resource.objects.count() == 0


def test_it_rejects_a_json_body_that_is_not_an_object(client):
    response = post_raw(client, '"CPU Usage"')
    assert response.status_code == 400
    assert Resource.objects.count() == 0


@pytest.mark.parametrize("value", [1e301, -1.7e308, "2e300"])
def test_it_rejects_a_value_beyond_the_range_rollups_can_add_up(client, value):
    # Two values near the double's limit in one bucket would overflow its sum, which MySQL refuses.
    response = client.post(URL, {"name": "huge", "value": value}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"value": ["Must be between -1e300 and 1e300."]}
    assert Resource.objects.count() == 0


def test_the_largest_accepted_values_add_up_in_one_bucket(client):
    body = [{"name": "big", "value": 1e300, "timestamp": f"2026-11-25T10:00:0{i}Z"} for i in range(5)]
    assert client.post(URL, body, content_type="application/json").status_code == 201
    series = client.get(
        "/monitor/resources/series/",
        {"name": "big", "since": "2026-11-25T10:00:00Z", "until": "2026-11-25T10:01:00Z", "aggregate": "count"},
    )
    assert series.json()["points"][0][1] == 5.0


def test_answers_keep_drfs_json_shape_times_with_z_and_integer_keys_as_text(client):
    """The orjson renderer (monitor/api/renderers.py) writes what DRF's JSONRenderer wrote."""
    created = client.post(
        "/monitor/resources/",
        {"name": "时间.ünïcode", "value": 1e300, "timestamp": "2026-11-25T12:00:00.123456Z"},
        content_type="application/json",
    )
    assert created.status_code == 201
    assert b'"timestamp":"2026-11-25T12:00:00.123456Z"' in created.content
    assert "时间.ünïcode".encode() in created.content  # UTF-8, not \\u escapes
    series = client.get("/monitor/resources/series/", {"name": "时间.ünïcode", "since": "2026-11-25T11:59:00Z"})
    assert series.json()["since"] == "2026-11-25T11:59:00Z"
    refused = client.post(
        "/monitor/resources/", [{"name": "a", "value": 1}, {"name": "b"}], content_type="application/json"
    )
    assert refused.status_code == 400 and "1" in refused.json()["items"]
