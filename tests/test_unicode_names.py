"""Names, hosts and descriptions with 4-byte UTF-8 (emoji, CJK Extension B) are stored and read back unchanged.

MySQL's "utf8" stops at 3 bytes per character; the app's connections and
tables use utf8mb4 (db_django/env.py, migrations). The suite runs on SQLite and
on MariaDB (`.ci/run`), so this holds on both.
"""

import pytest

from monitor.models import Series

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/"
EMOJI = "\U0001f525"  # FIRE, 4 bytes in UTF-8
CJK_B = "\U00020000\U0002a6d6"  # the first and last of CJK Unified Ideographs Extension B
NAME = f"temp.{EMOJI}:{CJK_B}"
HOST = f"主机-{EMOJI}"
DESCRIPTION = f"温度 {EMOJI} {CJK_B} \U0001f9ea"


def test_a_4_byte_name_host_and_description_round_trip_through_every_read(client):
    response = client.post(
        URL, {"name": NAME, "value": 1.5, "host": HOST, "description": DESCRIPTION}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["name"], created["host"], created["description"]) == (NAME, HOST, DESCRIPTION)

    stored = Series.objects.get()
    assert (stored.name, stored.host, stored.description) == (NAME, HOST, DESCRIPTION)
    assert client.get(f"{URL}{created['id']}/").json() == created
    assert client.get(URL, {"name": NAME, "host": HOST}).json()["results"] == [created]
    assert client.get(f"{URL}latest/", {"name_prefix": f"temp.{EMOJI}"}).json() == [created]
    hosts = [host["name"] for host in client.get("/monitor/hosts/").json()]
    assert hosts == [HOST]


def test_a_name_of_200_four_byte_characters_is_within_the_limit(client):
    name = EMOJI * 200  # 200 characters, 800 bytes: the limit counts characters
    response = client.post(URL, {"name": name, "value": 1}, content_type="application/json")
    assert response.status_code == 201, response.content
    assert client.get(URL, {"name": name}).json()["results"][0]["name"] == name
    too_long = client.post(URL, {"name": name + EMOJI, "value": 1}, content_type="application/json")
    assert too_long.status_code == 400 and "name" in too_long.json()


def test_names_differing_only_in_a_4_byte_character_are_two_series(client):
    for name in (f"m.{EMOJI}", "m.\U0001f9ea", f"m.{CJK_B[0]}", f"m.{CJK_B[1]}"):
        assert client.post(URL, {"name": name, "value": 1}, content_type="application/json").status_code == 201
    assert Series.objects.count() == 4
