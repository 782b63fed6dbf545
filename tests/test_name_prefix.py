"""`name_prefix` matches names that start with it, character for character: `%`, `_` and `\\` are no wildcards.

The database does the matching (LIKE on MySQL and SQLite), where `%` is any
run of characters and `_` any one character unless escaped.
"""

import pytest

from samples import store

pytestmark = pytest.mark.django_db
NAMES = [
    "disk.used_percent:/a_b",
    "disk.used_percent:/aXb",
    "disk.used_percent:/ab",
    "queue%depth",
    "queueXdepth",
    "queue\\depth",
    "queue\\\\depth",
]


@pytest.fixture(autouse=True)
def stored():
    for value, name in enumerate(NAMES):
        store(name=name, value=value, host="wild-1")


def names(client, path: str, prefix: str) -> list[str]:
    response = client.get(path, {"name_prefix": prefix})
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return sorted(row["name"] for row in rows)


@pytest.mark.parametrize("path", ["/monitor/resources/", "/monitor/resources/latest/"])
@pytest.mark.parametrize(
    "prefix, expected",
    [
        ("disk.used_percent:/a_", ["disk.used_percent:/a_b"]),
        ("disk.used_percent:/a%", []),
        ("queue%", ["queue%depth"]),
        ("queue_", []),
        ("queue\\d", ["queue\\depth"]),
        ("queue\\\\", ["queue\\\\depth"]),
        ("%", []),
        ("_", []),
    ],
)
def test_a_prefix_holding_like_wildcards_matches_them_literally(client, path, prefix, expected):
    assert names(client, path, prefix) == expected
