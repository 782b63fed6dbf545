"""A frontend on another origin may call the API only when its origin is configured."""

import pytest

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/"


def preflight(client, origin: str):
    return client.options(
        URL,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type",
    )


def test_a_configured_origin_is_allowed(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["http://localhost:5173"]
    response = preflight(client, "http://localhost:5173")
    assert response["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "authorization" in response["Access-Control-Allow-Headers"]
    got = client.get(URL, HTTP_ORIGIN="http://localhost:5173")
    assert got["Access-Control-Allow-Origin"] == "http://localhost:5173"


def test_another_origin_gets_no_cors_headers(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["http://localhost:5173"]
    assert "Access-Control-Allow-Origin" not in preflight(client, "http://evil.example")
    assert "Access-Control-Allow-Origin" not in client.get(URL, HTTP_ORIGIN="http://evil.example")
