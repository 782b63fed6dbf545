"""POST a JSON array: one multi-row INSERT, all or nothing."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitor.models import Resource

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/"


def samples(n: int) -> list[dict]:
    return [
        {
            "name": "cpu.percent",
            "value": i / 10,
            "host": "agent-1",
            "timestamp": f"2026-11-25T10:{i // 60 % 60:02d}:{i % 60:02d}.{i:06d}Z",
        }
        for i in range(n)
    ]


def _statements_run(kind: str) -> int:
    """The server's own count of `kind` statements on this connection (MySQL's Com_* counters)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE %s", [f"Com_{kind}"])
        return int(cursor.fetchone()[1])


@pytest.mark.parametrize("count", [500, 5000])
def test_it_stores_a_batch_in_one_insert(client, count):
    batch = samples(count)
    on_mysql = connection.vendor == "mysql"
    inserts_before = _statements_run("insert") if on_mysql else 0
    with CaptureQueriesContext(connection) as queries:
        response = client.post(URL, batch, content_type="application/json")
    assert response.status_code == 201
    assert response.json() == {"created": count}
    # One INSERT for all samples (Django logs an executemany as "500 times: INSERT ..."; on MySQL it is
    # written out as one multi-row statement, monitor/storage/bulk.py), one upsert of their rollups, one
    # of their host and one of their (new) series: as many for 5,000 as for 500.
    inserts = [q["sql"] for q in queries if "INSERT" in q["sql"].upper()]
    samples_inserts = [sql for sql in inserts if "monitor_sample" in sql]
    assert len(samples_inserts) == 1, inserts
    if on_mysql:
        assert samples_inserts[0].count("),(") == count - 1, samples_inserts[0][:300]
    else:
        assert samples_inserts[0].startswith(f"{count} times"), inserts
    assert len(inserts) == 4, inserts
    if on_mysql:  # mysqlclient sends each as one multi-row statement: the server counts four
        assert _statements_run("insert") - inserts_before == 4
    assert Resource.objects.count() == count
    stored = Resource.objects.get(value=12.3)
    assert stored.timestamp.isoformat() == "2026-11-25T10:02:03.000123+00:00"


def test_one_bad_item_rejects_the_batch_naming_its_index_and_field(client):
    batch = samples(10)
    batch[3]["value"] = "NaN"
    batch[7]["name"] = ""
    response = client.post(URL, batch, content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert set(body["items"]) == {"3", "7"}
    assert "value" in body["items"]["3"]
    assert "name" in body["items"]["7"]
    assert "none was stored" in body["detail"]
    assert Resource.objects.count() == 0


def test_every_item_repeating_a_bad_text_or_timestamp_is_named_not_only_the_first(client):
    # A batch's texts and instants are checked once each and remembered: errors must be remembered too.
    batch = samples(6)
    for index in (1, 4):
        batch[index]["host"] = "web\x00"
        batch[index]["timestamp"] = "yesterday"
    batch[5]["host"] = "  agent-1  "  # stripped, as the same host written plainly
    response = client.post(URL, batch, content_type="application/json")
    assert response.status_code == 400
    items = response.json()["items"]
    assert set(items) == {"1", "4"}
    assert items["1"] == items["4"] and set(items["1"]) == {"host", "timestamp"}
    batch[1] = batch[4] = samples(1)[0] | {"timestamp": "2026-11-25T11:00:00Z"}
    batch[4] = batch[4] | {"timestamp": "2026-11-25T11:00:01Z"}
    assert client.post(URL, batch, content_type="application/json").status_code == 201
    assert set(Resource.objects.values_list("host", flat=True)) == {"agent-1"}


def test_an_item_that_is_not_an_object_is_named_by_index(client):
    response = client.post(URL, [{"name": "a", "value": 1}, 42], content_type="application/json")
    assert response.status_code == 400
    assert "1" in response.json()["items"]
    assert Resource.objects.count() == 0


def test_a_batch_over_the_limit_gets_413_and_nothing_is_stored(client, settings):
    settings.BULK_MAX_ITEMS = 100
    response = client.post(URL, samples(101), content_type="application/json")
    assert response.status_code == 413
    assert "limit is 100" in response.json()["detail"]
    assert Resource.objects.count() == 0


def test_an_empty_batch_is_a_400(client):
    assert client.post(URL, [], content_type="application/json").status_code == 400
