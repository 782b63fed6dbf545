"""What a middleware answers before any view runs takes the form of the endpoint's own answers.

Agents read these: Prometheus logs a remote write's refusal, Telegraf and
influxdb-client print InfluxDB's `code` and `message`, a browser on the admin
gets text.
"""

import json

import pytest
from django.test import RequestFactory

from monitor.api.errors import fault_response
from monitor.database import UNAVAILABLE, Fault

DOWN = Fault(UNAVAILABLE, "Database unavailable: cannot connect.")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v2/write", {"code": "unavailable", "message": DOWN.message}),
        ("/monitor/write", {"code": "unavailable", "message": DOWN.message}),
        ("/api/v1/write", {"detail": DOWN.message}),
        ("/monitor/api/v1/write", {"detail": DOWN.message}),
        ("/monitor/resources/", {"detail": DOWN.message}),
    ],
)
def test_a_database_503_takes_the_endpoints_form(path, body):
    response = fault_response(RequestFactory().post(path), DOWN)
    assert response.status_code == 503 and response["Retry-After"]
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == body


def test_the_admin_gets_its_503_as_text():
    response = fault_response(RequestFactory().get("/admin/"), DOWN)
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/plain") and response.content.decode() == DOWN.message
