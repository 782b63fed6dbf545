"""Filters as long as the API takes them work through gunicorn as deployed, and so does their next link.

A name (200 characters) and a host (255) in CJK characters, nine bytes each once
percent-encoded, make a request line past gunicorn's default 4 KB, which nginx
lets through; a cursor too long for any link is refused in JSON, not HTML.
"""

import urllib.parse

import pytest
from live_api import live_api

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Distinct CJK characters (compression does not shorten the cursor much), as long as the API takes.
LONG_NAME = "".join(chr(0x4E00 + 37 * i) for i in range(200))
LONG_HOST = "".join(chr(0x6000 + 41 * i) for i in range(255))


def test_the_longest_filters_and_their_next_link_pass_gunicorn(tmp_path):
    with live_api(tmp_path) as api:
        samples = [
            {"name": LONG_NAME, "host": LONG_HOST, "value": v, "timestamp": f"2026-11-25T10:00:0{v}Z"} for v in range(3)
        ]
        assert api.call("POST", "/monitor/resources/", samples)[0] == 201
        query = urllib.parse.urlencode({"name": LONG_NAME, "host": LONG_HOST, "page_size": 1})
        assert len(f"/monitor/resources/?{query}") > 4096  # past gunicorn's default request line
        status, page = api.call("GET", f"/monitor/resources/?{query}")
        assert status == 200, page
        link = urllib.parse.urlsplit(page["next"])
        status, second = api.call("GET", f"{link.path}?{link.query}")
        assert status == 200, second[:300]
        assert [r["value"] for r in page["results"] + second["results"]] == [2.0, 1.0]


def test_a_cursor_too_long_for_any_link_is_refused_in_json(tmp_path):
    with live_api(tmp_path) as api:
        status, body = api.call("GET", "/monitor/resources/?cursor=" + "x" * 5000)
        assert status == 400 and "Invalid cursor" in body["cursor"][0]
