"""The browsable API as a person uses it: a root that lists every endpoint, and HTML forms that work.

The forms post multipart: fields are accepted, files and oversized bodies are not.
tests/test_browsable_api_browser.py fills them in Chromium.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from monitor.models import Series
from samples import store

pytestmark = pytest.mark.django_db

URL = "/monitor/resources/"
EVERY_ENDPOINT = [
    "resources",
    "latest",
    "series",
    "hosts",
    "application",
    "health",
    "collect",
    "alerts",
    "alert_rules",
    "alert_events",
    "silences",
    "metrics",
    "schema",
    "docs",
]


def test_the_api_root_lists_every_endpoint_and_each_answers(client):
    listed = client.get("/monitor/", HTTP_ACCEPT="application/json").json()
    assert list(listed) == EVERY_ENDPOINT
    # collect is POST only; series says which parameter it needs; health has no worker to report here.
    differ = {"collect": 405, "series": 400, "health": 503}
    assert listed["metrics"] == "http://testserver/monitor/metrics"
    for label, url in listed.items():
        answer = client.get(url.removeprefix("http://testserver"))
        assert answer.status_code == differ.get(label, 200), (label, answer)
    assert "name" in client.get(listed["series"]).json()
    assert client.get("/monitor/", HTTP_ACCEPT="text/html").status_code == 200


def test_a_multipart_form_stores_its_sample(client):
    answer = client.post(URL, {"name": "form.sample", "value": "12.5", "description": "", "timestamp": "", "host": ""})
    assert answer.status_code == 201, answer.content
    assert answer.json()["name"] == "form.sample" and answer.json()["value"] == 12.5


def test_the_put_form_replaces_a_sample_keeping_its_id(client):
    row = store("form.sample", 1.0, host="web-1")
    body = encode_multipart(BOUNDARY, {"name": "form.sample", "value": "2.5", "host": "web-1", "timestamp": ""})
    answer = client.put(f"{URL}{row.id}/", body, content_type=MULTIPART_CONTENT)
    assert answer.status_code == 200, answer.content
    assert (answer.json()["id"], answer.json()["value"]) == (row.id, 2.5)


def test_a_form_with_a_file_is_refused_and_nothing_is_stored(client):
    upload = SimpleUploadedFile("values.csv", b"1,2,3\n" * 100, content_type="text/csv")
    answer = client.post(URL, {"name": "form.sample", "value": "1", "attachment": upload})
    assert answer.status_code == 400
    assert "attachment" in answer.json()["detail"]
    assert not Series.objects.filter(name="form.sample").exists()


def test_a_form_announced_over_the_upload_limit_is_refused_unread(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    upload = SimpleUploadedFile("big.bin", b"x" * 10_000)
    answer = client.post(URL, {"name": "form.sample", "value": "1", "blob": upload})
    assert answer.status_code == 413
    assert "4096" in answer.json()["detail"]
    assert not Series.objects.filter(name="form.sample").exists()
