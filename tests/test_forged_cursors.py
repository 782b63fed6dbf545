"""Only cursors the API issued are accepted: anything else is a 400, never a 500.

Cursors are signed with the site's secret key, so a forged, altered or
hand-built cursor is refused before its payload is even decoded.
"""

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing

from monitor.api.pagination import CURSOR_SALT, MAX_CURSOR_LENGTH
from monitor.models import Resource
from samples import point, store_many

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
INVALID = {"cursor": ["Invalid cursor: use the next/previous links as given."]}


@pytest.fixture
def rows() -> list[Resource]:
    store_many(point(name="m", value=i, timestamp=T0 + timedelta(seconds=i)) for i in range(10))
    return list(Resource.objects.order_by("-timestamp", "-id"))


def unsigned(payload: object) -> str:
    """A cursor as a client could build one: base64 of JSON, the old unsigned form."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def next_cursor(client, query: str = "page_size=3") -> str:
    link = client.get(f"{URL}?{query}").json()["next"]
    return parse_qs(urlsplit(link).query)["cursor"][0]


def assert_refused(client, cursor: str) -> None:
    response = client.get(URL, {"cursor": cursor})
    assert response.status_code == 400, response.content[:300]
    assert response.json() == INVALID


def test_a_cursor_of_deeply_nested_json_is_refused(client, rows):
    nested = base64.urlsafe_b64encode(b"[" * 100_000 + b"]" * 100_000).decode()
    assert_refused(client, nested)


def test_a_nested_cursor_within_the_length_bound_is_refused(client, rows):
    depth = MAX_CURSOR_LENGTH * 3 // 8  # base64 makes 4 characters of 3 bytes
    nested = base64.urlsafe_b64encode(b"[" * depth + b"]" * depth).decode()
    assert len(nested) <= MAX_CURSOR_LENGTH
    assert_refused(client, nested)


def test_a_huge_cursor_is_refused_without_being_decoded(client, rows):
    huge = next_cursor(client) + "A" * 1_000_000
    started = time.perf_counter()
    assert_refused(client, huge)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "payload",
    [
        [T0.isoformat(), "3", 0],  # the old form, with a string id
        [T0.isoformat(), 10**30, 0],  # an id no database column holds
        [T0.isoformat(), 3],
        [{"a": 1}, 3, 0],
        {"ts": T0.isoformat(), "id": 3, "back": False},  # the new payload, unsigned
    ],
)
def test_a_cursor_we_did_not_sign_is_refused(client, rows, payload):
    assert_refused(client, unsigned(payload))


@pytest.mark.parametrize(
    "payload",
    [
        {"ts": T0.isoformat(), "id": "3", "back": False},
        {"ts": T0.isoformat(), "id": 10**30, "back": False},
        {"ts": T0.isoformat(), "id": True, "back": False},
        {"ts": 5, "id": 3, "back": False},
        {"ts": "yesterday", "id": 3, "back": False},
        {"ts": T0.isoformat(), "id": 3, "back": "no"},
        {"ts": T0.isoformat(), "id": 3},
        [T0.isoformat(), 3, 0],
        "cursor",
    ],
)
def test_a_signed_cursor_of_the_wrong_shape_is_refused(client, rows, payload):
    # Signed with the site's key, so only the payload check stands between it and the query.
    assert_refused(client, signing.Signer(salt=CURSOR_SALT).sign_object(payload))


def test_an_altered_cursor_is_refused(client, rows):
    cursor = next_cursor(client)
    payload, _, signature = cursor.rpartition(":")
    assert_refused(client, payload + ":" + signature[::-1])
    assert_refused(client, payload)  # signature stripped
    assert_refused(client, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + ":" + signature)
    assert_refused(client, unsigned({"ts": T0.isoformat(), "id": rows[0].id, "back": True}) + ":" + signature)


def test_a_cursor_signed_with_another_key_is_refused(client, rows, settings):
    cursor = next_cursor(client)
    settings.SECRET_KEY = "another-site-" + "k" * 50
    assert_refused(client, cursor)


def test_a_cursor_issued_here_pages_on(client, rows):
    cursor = next_cursor(client)
    assert len(cursor) <= MAX_CURSOR_LENGTH
    page = client.get(URL, {"cursor": cursor, "page_size": 3}).json()
    assert [r["id"] for r in page["results"]] == [r.id for r in rows[3:6]]
