"""POST /monitor/resources/: the notes' curl bodies and what gets stored."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from monitor.models import Resource
from samples import store

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/"
# Byte for byte what the notes' two curl forms (bash and PowerShell) send.
NOTES_BODY_BASH = '{"name": "CPU Usage", "value": 75.5, "description": "Average CPU usage in percentage"}'
NOTES_BODY_WINDOWS = '{"name": "CPU Usage", "value": 75.5, "description": "Average CPU usage in percentage"}'


@pytest.mark.parametrize("body", [NOTES_BODY_BASH, NOTES_BODY_WINDOWS], ids=["bash", "powershell"])
def test_it_answers_201_with_the_stored_row_for_the_notes_curl_body(client, body):
    before = timezone.now()
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 201
    data = response.json()
    row = Resource.objects.get()
    assert data["id"] == row.id
    assert data["name"] == "CPU Usage" == row.name
    assert data["value"] == 75.5 == row.value
    assert data["description"] == "Average CPU usage in percentage"
    assert data["host"] == ""
    assert before <= row.timestamp <= timezone.now()


def test_each_answer_carries_the_id_of_its_own_stored_row(client):
    answers = [
        client.post(URL, {"name": "queue.depth", "value": n}, content_type="application/json").json() for n in range(3)
    ]
    stored = {row.id: row.value for row in Resource.objects.all()}
    assert {answer["id"]: answer["value"] for answer in answers} == stored
    assert len(stored) == 3


def test_it_keeps_a_client_timestamp_with_microseconds_in_utc(client):
    sent = "2026-11-24T23:59:58.123456+08:00"
    response = client.post(URL, {"name": "cpu.percent", "value": 1, "timestamp": sent}, content_type="application/json")
    assert response.status_code == 201
    stored = Resource.objects.get().timestamp
    assert stored == datetime(2026, 11, 24, 15, 59, 58, 123456, tzinfo=UTC)
    assert response.json()["timestamp"] == "2026-11-24T15:59:58.123456Z"
    fetched = client.get(f"{URL}{Resource.objects.get().id}/").json()
    assert fetched["timestamp"] == "2026-11-24T15:59:58.123456Z"


def test_it_stores_the_host_a_client_sends(client):
    response = client.post(URL, {"name": "load.1m", "value": 0.5, "host": "db-1"}, content_type="application/json")
    assert response.status_code == 201
    assert Resource.objects.get().host == "db-1"


def test_it_reads_updates_and_deletes_a_row(client):
    row = store(name="a", value=1, timestamp=timezone.now() - timedelta(minutes=1))
    assert client.get(f"{URL}{row.id}/").json()["value"] == 1
    response = client.patch(f"{URL}{row.id}/", {"value": 2.5}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["id"] == row.id  # same series, same instant
    assert Resource.objects.get(id=row.id).value == 2.5
    assert client.delete(f"{URL}{row.id}/").status_code == 204
    assert not Resource.objects.exists()
    assert client.get(f"{URL}{row.id}/").status_code == 404
