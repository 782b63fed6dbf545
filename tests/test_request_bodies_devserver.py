"""A chunked body where the server does not decode chunked encoding (the development server).

Django's own server hands the raw chunked stream to the application without
saying it ended (no `wsgi.input_terminated`); the test client is such a server.
Reading it would block or parse chunk framing as data, so it is refused, saying why.
"""

import pytest

from monitor.models import Resource

pytestmark = pytest.mark.django_db


def test_a_chunked_body_the_server_does_not_decode_gets_411_saying_to_send_a_length(client):
    response = client.post(
        "/monitor/resources/",
        b'{"name": "bodies.dev", "value": 1}',
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411, response.content[:300]
    assert response.json() == {"detail": "Length required: send the body with a Content-Length header."}
    assert Resource.objects.count() == 0
