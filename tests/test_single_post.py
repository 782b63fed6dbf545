"""The one-sample JSON POST's short path (monitor/api/single_post.py): the viewset's answers, fewer steps.

Each test sends the same request twice: once as agents send it (the short path
takes it) and once with `?format=json`, which the short path always hands to
the viewset, and compares what comes back.
"""

import pytest
from django.core.cache import cache
from django.db import OperationalError
from django.test import Client

from monitor.api import single_post
from monitor.api.auth import issue_token
from monitor.api.resources import ResourceViewSet
from monitor.api.throttling import TokenWriteThrottle
from monitor.models import Resource, SampleQuerySet

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/"
THROUGH_VIEWSET = URL + "?format=json"
NOTES_BODY = {"name": "CPU Usage", "value": 75.5, "description": "Average CPU usage in percentage"}
# Headers whose values differ from one answer to the next whatever path gave them.
PER_ANSWER = {"Date", "Content-Length"}


@pytest.fixture
def production(settings):
    settings.API_REQUIRE_AUTH = True
    settings.API_PUBLIC_READS = False
    cache.clear()


@pytest.fixture
def viewset_calls(monkeypatch) -> list[str]:
    """The viewset actions that ran (the short path runs none)."""
    calls: list[str] = []
    original = ResourceViewSet.initial

    def initial(self, request, *args, **kwargs):
        calls.append(self.action)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(ResourceViewSet, "initial", initial)
    return calls


def post(client, url: str, body, **headers):
    return client.post(url, body, content_type="application/json", **headers)


def headers_of(response) -> dict:
    return {name: value for name, value in response.headers.items() if name not in PER_ANSWER}


def same_sample_apart_from_id_and_time(short: dict, full: dict) -> bool:
    drop = ("id", "timestamp")
    return {k: v for k, v in short.items() if k not in drop} == {k: v for k, v in full.items() if k not in drop}


def test_the_notes_post_takes_the_short_path_and_answers_as_the_viewset(client, viewset_calls):
    short = post(client, URL, NOTES_BODY)
    assert viewset_calls == []
    full = post(client, THROUGH_VIEWSET, NOTES_BODY)
    assert viewset_calls == ["create"]
    assert short.status_code == full.status_code == 201
    assert headers_of(short) == headers_of(full)
    assert list(short.json()) == list(full.json()) == ["id", "name", "value", "description", "timestamp", "host"]
    assert same_sample_apart_from_id_and_time(short.json(), full.json())
    assert client.get(URL + short.json()["id"] + "/").json() == short.json()


def test_a_token_writer_takes_the_short_path_and_answers_as_the_viewset(client, production, viewset_calls):
    _, key = issue_token("agent", "write")
    body = {**NOTES_BODY, "host": "web-1", "timestamp": "2026-11-28T08:00:00Z"}
    short = post(client, URL, body, HTTP_AUTHORIZATION=f"Bearer {key}")
    later = {**body, "timestamp": "2026-11-28T08:00:10Z"}
    full = post(client, THROUGH_VIEWSET, later, HTTP_AUTHORIZATION=f"Token {key}")
    assert viewset_calls == ["create"]
    assert short.status_code == full.status_code == 201
    # A token request never reads the session, so neither answer varies by Cookie.
    assert headers_of(short) == headers_of(full)
    assert "Cookie" not in short["Vary"]
    assert short.json()["timestamp"] == "2026-11-28T08:00:00Z" and short.json()["host"] == "web-1"


@pytest.mark.parametrize(
    "body",
    [
        {"value": 1},  # no name
        {"name": "x", "value": "NaN"},
        {"name": "x", "value": 1, "timestamp": "yesterday"},
        [NOTES_BODY],  # an array is a bulk write
        "just text",
    ],
)
def test_a_body_the_viewset_refuses_or_stores_in_bulk_is_answered_by_the_viewset(client, viewset_calls, body):
    short = post(client, URL, body)
    full = post(client, THROUGH_VIEWSET, body)
    assert viewset_calls == ["create", "create"]
    assert short.status_code == full.status_code
    assert short.json() == full.json()


def test_nan_tokens_the_fast_parser_refuses_reach_the_viewset_which_names_the_field(client, viewset_calls):
    response = client.post(URL, '{"name": "x", "value": NaN}', content_type="application/json")
    assert viewset_calls == ["create"]
    assert response.status_code == 400 and "value" in response.json()


def test_refused_writers_get_the_viewsets_answers(client, production, viewset_calls):
    _, reader = issue_token("dashboard", "read")
    anonymous = post(client, URL, NOTES_BODY)
    read_only = post(client, URL, NOTES_BODY, HTTP_AUTHORIZATION=f"Token {reader}")
    unknown = post(client, URL, NOTES_BODY, HTTP_AUTHORIZATION="Token dbm_nothing")
    basic = post(client, URL, NOTES_BODY, HTTP_AUTHORIZATION="Basic YWRtaW46YWRtaW4=")
    assert [r.status_code for r in (anonymous, read_only, unknown, basic)] == [401, 403, 401, 401]
    assert anonymous["WWW-Authenticate"].startswith("Token")
    assert viewset_calls == ["create"] * 4
    assert Resource.objects.count() == 0


def test_failed_token_checks_are_counted_once_per_request(client, production, settings):
    settings.API_AUTH_FAILURE_RATE = "3/minute"
    codes = [post(client, URL, NOTES_BODY, HTTP_AUTHORIZATION="Token dbm_wrong").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_each_write_counts_once_against_the_tokens_rate(client, production, monkeypatch, viewset_calls):
    monkeypatch.setattr(TokenWriteThrottle, "rate", "3/minute", raising=False)
    _, key = issue_token("agent", "write")
    responses = [post(client, URL, NOTES_BODY, HTTP_AUTHORIZATION=f"Token {key}") for _ in range(4)]
    assert [r.status_code for r in responses] == [201, 201, 201, 429]
    assert int(responses[-1]["Retry-After"]) > 0
    assert viewset_calls == ["create"]  # only the refused one
    assert Resource.objects.count() == 3


def test_a_session_post_goes_through_the_viewset_and_its_csrf_check(admin_user, viewset_calls):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    response = browser.post(URL, NOTES_BODY, content_type="application/json")
    assert viewset_calls == ["create"]
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ACCEPT": "text/html"},
        {"HTTP_ACCEPT": "application/json; indent=2"},
    ],
)
def test_other_answer_forms_are_the_viewsets(client, viewset_calls, headers):
    response = post(client, URL, NOTES_BODY, **headers)
    assert viewset_calls == ["create"]
    assert response.status_code == 201


def test_a_clash_answers_409_as_the_viewset(client, viewset_calls, monkeypatch):
    clash = single_post.Conflict({0: "taken"})

    def store(points):
        raise clash

    monkeypatch.setattr(SampleQuerySet, "store", lambda self, points: store(points))
    short = post(client, URL, NOTES_BODY)
    full = post(client, THROUGH_VIEWSET, NOTES_BODY)
    assert viewset_calls == ["create"]
    assert short.status_code == full.status_code == 409
    assert short.json() == full.json() == {"timestamp": ["taken"]}
    assert headers_of(short) == headers_of(full)


def test_a_database_that_fails_the_write_answers_503_as_the_viewset(client, viewset_calls, monkeypatch):
    def store(points):
        raise OperationalError(2013, "Lost connection to server during query")

    monkeypatch.setattr(SampleQuerySet, "store", lambda self, points: store(points))
    short = post(client, URL, NOTES_BODY)
    full = post(client, THROUGH_VIEWSET, NOTES_BODY)
    assert viewset_calls == ["create"]
    assert short.status_code == full.status_code == 503
    assert short.json() == full.json()
    assert headers_of(short) == headers_of(full)
    assert int(short["Retry-After"]) > 0
