"""Bodies beyond what one request may carry: refused with a 4xx, never a 500, nothing stored.

Limits: DATA_UPLOAD_MAX_MEMORY_SIZE bytes per body (413) and BULK_MAX_ITEMS
samples per bulk POST (413).
"""

import io
import json
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings

from monitor.models import Resource

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/"
THREE_MB = 3 * 1024 * 1024


def post_json(client, body: str):
    return client.post(URL, body, content_type="application/json")


def realistic_samples(n: int) -> list[dict]:
    """What a worker's agent sends: collector names, a host, its own timestamps."""
    return [
        {
            "name": f"diskio.write_bytes_per_second:nvme{i % 4}n1",
            "value": 123456.789 + i,
            "host": "worker-12.dc1.example.internal",
            "timestamp": f"2026-11-25T10:{i // 60 % 60:02d}:{i % 60:02d}.{i:06d}Z",
        }
        for i in range(n)
    ]


def assert_refused_as_too_large(response) -> None:
    assert response.status_code == 413, response.content[:300]
    assert "detail" in response.json()
    assert Resource.objects.count() == 0


def test_one_sample_with_a_3_mb_description_gets_413_and_nothing_is_stored(client):
    body = json.dumps({"name": "log.tail", "value": 1, "description": "x" * THREE_MB})
    assert_refused_as_too_large(post_json(client, body))


def test_a_3_mb_bulk_array_within_the_item_limit_gets_413_and_nothing_is_stored(client):
    items = [{"name": "cpu.percent", "value": i, "description": "y" * 1000} for i in range(3000)]
    assert len(items) <= django_settings.BULK_MAX_ITEMS
    body = json.dumps(items)
    assert len(body) > THREE_MB
    assert_refused_as_too_large(post_json(client, body))


def test_one_sample_more_than_bulk_max_items_gets_413_and_nothing_is_stored(client):
    items = [{"name": "c", "value": i} for i in range(django_settings.BULK_MAX_ITEMS + 1)]
    body = json.dumps(items)
    assert len(body) < django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # the item limit, not the byte limit
    response = post_json(client, body)
    assert_refused_as_too_large(response)
    assert str(django_settings.BULK_MAX_ITEMS) in response.json()["detail"]


def test_a_full_batch_of_realistic_samples_fits_in_one_body(client):
    items = realistic_samples(django_settings.BULK_MAX_ITEMS)
    body = json.dumps(items)
    assert len(body) <= django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE, len(body)
    response = post_json(client, body)
    assert response.status_code == 201, response.content[:300]
    assert response.json() == {"created": django_settings.BULK_MAX_ITEMS}
    assert Resource.objects.count() == django_settings.BULK_MAX_ITEMS


def test_the_byte_limit_is_exact(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    head = '{"name": "m", "value": 1, "description": "'
    at_limit = head + "z" * (10_000 - len(head) - 2) + '"}'
    assert len(at_limit) == 10_000
    assert post_json(client, at_limit).status_code == 201
    over = head + "z" * (10_001 - len(head) - 2) + '"}'
    response = post_json(client, over)
    assert response.status_code == 413
    assert Resource.objects.count() == 1


def test_a_3_mb_form_body_gets_413_and_nothing_is_stored(client):
    body = urlencode({"name": "form.metric", "value": "1", "description": "x" * THREE_MB})
    response = client.post(URL, body, content_type="application/x-www-form-urlencoded")
    assert_refused_as_too_large(response)


def assert_multipart_refused_as_too_large(response) -> None:
    """413: multipart form posts (the browsable API's form) are read for their fields only, and a body
    announced over DATA_UPLOAD_MAX_MEMORY_SIZE is refused before any part is read (monitor/api/parsers.py),
    so no file part can slip past the byte limit."""
    assert response.status_code == 413, response.content[:300]
    assert "Request body too large" in response.json()["detail"]
    assert Resource.objects.count() == 0


def test_a_3_mb_multipart_body_is_refused_and_nothing_is_stored(client):
    response = client.post(URL, {"name": "form.metric", "value": "1", "description": "x" * THREE_MB})
    assert_multipart_refused_as_too_large(response)


def test_a_3_mb_multipart_file_is_refused_and_nothing_is_stored(client):
    """A file part does not count against DATA_UPLOAD_MAX_MEMORY_SIZE in Django: the API must still refuse the body."""
    upload = io.BytesIO(b"z" * THREE_MB)
    upload.name = "dump.bin"
    response = client.post(URL, {"name": "form.metric", "value": "1", "file": upload})
    assert_multipart_refused_as_too_large(response)


@pytest.mark.parametrize("opening, closing", [("[", "]"), ('{"a":', "}")])
def test_json_nested_deeper_than_the_parser_follows_gets_400_not_500(client, opening, closing):
    depth = 100_000  # 500 KB: well within the byte limit
    response = post_json(client, opening * depth + "1" * (opening != "[") + closing * depth)
    assert response.status_code == 400, response.content[:300]
    assert Resource.objects.count() == 0
