"""POST /monitor/resources/series/batch/: many series over one range in one request."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User

from monitor.api.auth import issue_token
from monitor.models import Sample
from samples import point

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/series/batch/"
SERIES_URL = "/monitor/resources/series/"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EPOCH0 = int(T0.timestamp())


@pytest.fixture
def samples():
    """cpu.percent on a (every 20 s, values 0..8) and b; nothing in a's fourth minute; memory on a."""
    rows = [point("cpu.percent", i, "a", T0 + timedelta(seconds=20 * i)) for i in range(9)]
    rows += [point("cpu.percent", 100, "a", T0 + timedelta(minutes=4, seconds=10))]
    rows += [point("cpu.percent", 50, "b", T0 + timedelta(seconds=30))]
    rows += [point("memory.used_percent", 42, "a", T0 + timedelta(seconds=30))]
    rows += [point("disk.used_percent:/", 70, "a", T0 + timedelta(seconds=30))]
    Sample.objects.store(rows)


def batch(client, items, **body):
    payload = {"since": T0.isoformat(), "until": (T0 + timedelta(minutes=5)).isoformat(), "step": "1m", "items": items}
    payload.update(body)
    return client.post(URL, json.dumps(payload), content_type="application/json", **body.pop("headers", {}))


def test_each_item_is_answered_as_the_series_endpoint_answers_it(client, samples):
    items = [
        {"name": "cpu.percent", "host": "a"},
        {"name": "cpu.percent", "host": "a", "aggregate": "max"},
        {"name": "cpu.percent"},  # every host together
        {"name": "disk.used_percent:/", "host": "a", "aggregate": "last"},
    ]
    response = batch(client, items)
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [r["name"] for r in results] == [i["name"] for i in items]
    for item, result in zip(items, results, strict=True):
        query = {"name": item["name"], "since": T0.isoformat(), "until": (T0 + timedelta(minutes=5)).isoformat()}
        query.update(step="1m", aggregate=item.get("aggregate", "avg"))
        if "host" in item:
            query["host"] = item["host"]
        assert result["points"] == client.get(SERIES_URL, query).json()["points"]
        assert result["host"] == item.get("host")
        assert result["aggregate"] == item.get("aggregate", "avg")
    assert results[0]["points"] == [[EPOCH0, 1.0], [EPOCH0 + 60, 4.0], [EPOCH0 + 120, 7.0], [EPOCH0 + 240, 100.0]]
    assert results[2]["points"][0] == [EPOCH0, (0 + 1 + 2 + 50) / 4]


def test_fill_answers_every_bucket_with_null_where_there_is_no_data(client, samples):
    response = batch(client, [{"name": "cpu.percent", "host": "a"}, {"name": "no.such.metric"}], fill=True)
    body = response.json()
    assert body["times"] == [EPOCH0 + 60 * i for i in range(5)]
    assert body["results"][0]["values"] == [1.0, 4.0, 7.0, None, 100.0]
    assert body["results"][1]["values"] == [None] * 5
    assert "points" not in body["results"][0]


def test_a_batch_of_unknown_series_answers_empty_series(client, samples):
    body = batch(client, [{"name": "no.such.metric"}, {"name": "cpu.percent", "host": "z"}], fill=True).json()
    assert [r["values"] for r in body["results"]] == [[None] * 5, [None] * 5]


def test_buckets_start_at_multiples_of_the_step_like_the_series(client, samples):
    since = T0 + timedelta(seconds=30)  # mid-bucket: the first bucket starts before since
    body = batch(client, [{"name": "cpu.percent", "host": "a"}], since=since.isoformat(), fill=True).json()
    assert body["times"][0] == EPOCH0
    assert body["results"][0]["values"][0] == 2.0  # of the first minute, only the sample at 40 s is in range
    assert body["times"][-1] == EPOCH0 + 240


def test_times_may_be_seconds_since_1970(client, samples):
    body = batch(client, [{"name": "cpu.percent", "host": "a"}], since=EPOCH0, until=EPOCH0 + 300, step=60).json()
    assert body["step"] == 60
    assert body["results"][0]["points"][0] == [EPOCH0, 1.0]


def test_all_items_are_read_with_one_query_per_tier(client, samples, django_assert_num_queries):
    items = [{"name": "cpu.percent", "host": h} for h in ("a", "b")] + [{"name": "memory.used_percent", "host": "a"}]
    items += [{"name": "cpu.percent"}]
    # one catalog query, then one query of the minute rollups (a 1 m step over whole minutes) for every item;
    # on MySQL the fold watermark is read first (storage/folding.py: past it, raw samples count)
    from django.db import connection

    with django_assert_num_queries(3 if connection.vendor == "mysql" else 2):
        assert batch(client, items).status_code == 200


@pytest.mark.parametrize("aggregate", ["avg", "min", "max", "last", "count"])
def test_many_groups_at_once_equal_each_group_alone(samples, aggregate):
    """series_points_many over overlapping groups, raw edges and tiers: each group as series_points gives it."""
    from monitor.models import Series
    from monitor.storage.instants import to_us
    from monitor.storage.queries import series_points, series_points_many

    ids = dict(Series.objects.values_list("name", "id"))
    by_host = dict(Series.objects.filter(name="cpu.percent").values_list("host", "id"))
    groups = [[by_host["a"]], [by_host["a"], by_host["b"]], [ids["memory.used_percent"]], [], [by_host["b"]]]
    since, until = to_us(T0 + timedelta(seconds=7)), to_us(T0 + timedelta(minutes=4, seconds=50))
    for step in (30, 60, 120):
        many = series_points_many(groups, since, until, step, aggregate)
        assert many == [series_points(group, since, until, step, aggregate) if group else [] for group in groups]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [{"host": "a"}]}, "items"),
        ({"items": [{"name": "x", "aggregate": "median"}]}, "items"),
        ({"items": [{"name": "x"}], "step": "0s"}, "step"),
        ({"items": [{"name": "x"}], "step": "often"}, "step"),
        ({"items": [{"name": "x"}], "since": "yesterday"}, "since"),
        ({"items": [{"name": "x"}], "since": "2026-11-25T12:00:00Z", "until": "2026-11-25T11:00:00Z"}, "since"),
        ({"items": [{"name": "x"}], "since": "2026-01-01T00:00:00Z", "until": "2026-11-25T00:00:00Z"}, "step"),
        ({"items": [{"name": "x\x00"}]}, "items"),
        ({"items": "cpu.percent"}, "items"),
    ],
)
def test_bad_input_is_refused_naming_the_field(client, body, field):
    response = client.post(URL, json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_more_items_than_the_limit_answer_413(client, settings):
    settings.BATCH_MAX_ITEMS = 3
    response = client.post(URL, json.dumps({"items": [{"name": f"m{i}"} for i in range(4)]}), "application/json")
    assert response.status_code == 413
    assert "BATCH_MAX_ITEMS" in response.json()["detail"]


def test_too_many_points_in_all_are_refused(client, settings):
    settings.BATCH_MAX_POINTS = 100
    body = {"items": [{"name": "a"}, {"name": "b"}], "since": "2026-11-25T00:00:00Z", "until": "2026-11-25T01:00:00Z"}
    response = client.post(URL, json.dumps({**body, "step": "60s"}), "application/json")
    assert response.status_code == 400
    assert "BATCH_MAX_POINTS" in response.json()["step"][0]
    assert client.post(URL, json.dumps({**body, "step": "5m"}), "application/json").status_code == 200


def test_the_schema_documents_it_with_its_limit(client):
    schema = client.get("/monitor/schema/?format=json").json()
    operation = schema["paths"][URL]["post"]
    assert operation["operationId"] == "resources_series_batch"
    assert "200" in operation["description"] and "BATCH_MAX_ITEMS" in operation["description"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"items", "since", "until", "step", "aggregate", "fill"} <= set(
        schema["components"]["schemas"][request]["properties"]
    )


# --- who may call it -----------------------------------------------------------------------------


@pytest.fixture
def production(settings):
    settings.API_REQUIRE_AUTH = True


def test_with_the_production_policy_anonymous_clients_are_refused(client, production, samples):
    assert batch(client, [{"name": "cpu.percent"}]).status_code == 401


def test_a_read_only_token_may_call_it_although_it_is_a_post(client, production, samples):
    _token, key = issue_token("reader", "read")
    response = client.post(
        URL, json.dumps({"items": [{"name": "cpu.percent"}]}), "application/json", HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert response.status_code == 200


def test_a_staff_session_needs_the_csrf_token(production, samples):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("ops", is_staff=True))
    body = json.dumps({"items": [{"name": "cpu.percent"}]})
    assert client.post(URL, body, "application/json").status_code == 403
    page = client.get("/")  # the dashboard page carries the token
    token = page.cookies["csrftoken"].value
    assert client.post(URL, body, "application/json", HTTP_X_CSRFTOKEN=token).status_code == 200


def test_members_of_the_dashboard_group_may_read_through_it(client, production, settings, samples):
    settings.DASHBOARD_GROUP = "viewers"
    viewer = User.objects.create_user("viewer", password="pw-12345-long")
    outsider = User.objects.create_user("outsider", password="pw-12345-long")
    viewer.groups.add(Group.objects.create(name="viewers"))
    client.force_login(outsider)
    assert batch(client, [{"name": "cpu.percent"}]).status_code == 403
    client.force_login(viewer)
    assert batch(client, [{"name": "cpu.percent"}]).status_code == 200


def test_it_is_not_counted_as_a_write(client, production, settings, samples):
    settings.API_WRITE_RATE = "1/minute"
    _token, key = issue_token("reader", "read")
    for _ in range(3):
        response = client.post(
            URL, json.dumps({"items": [{"name": "cpu.percent"}]}), "application/json", HTTP_AUTHORIZATION=f"Token {key}"
        )
        assert response.status_code == 200


def test_an_empty_host_means_the_series_without_a_host_as_the_series_endpoint_reads_it(client, samples):
    Sample.objects.store([point("cpu.percent", 1000, "", T0 + timedelta(seconds=30))])
    response = batch(client, [{"name": "cpu.percent", "host": ""}, {"name": "cpu.percent"}], fill=True)
    assert response.status_code == 200, response.json()
    hostless, everywhere = response.json()["results"]
    assert hostless["host"] == "" and hostless["values"][0] == 1000.0
    alone = client.get(
        SERIES_URL,
        {
            "name": "cpu.percent",
            "host": "",
            "since": T0.isoformat(),
            "until": (T0 + timedelta(minutes=1)).isoformat(),
            "step": "1m",
        },
    ).json()
    assert alone["points"][0][1] == 1000.0
    assert everywhere["host"] is None and everywhere["values"][0] != 1000.0  # every host's samples together
