"""/monitor/schema/ describes every endpoint; /monitor/docs/ serves Swagger UI offline."""

import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_the_schema_lists_every_endpoint(client):
    response = client.get("/monitor/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = set(schema["paths"])
    for path in (
        "/monitor/resources/",
        "/monitor/resources/{id}/",
        "/monitor/resources/latest/",
        "/monitor/resources/series/",
        "/monitor/application/",
        "/monitor/hosts/",
        "/monitor/health/",
        "/monitor/collect/",
    ):
        assert path in paths
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    list_params = {p["name"] for p in schema["paths"]["/monitor/resources/"]["get"]["parameters"]}
    assert {"cursor", "page_size", "ordering", "name", "name_prefix", "host", "since", "until"} <= list_params


def test_the_docs_page_loads_its_assets_from_this_server(client):
    page = client.get("/monitor/docs/")
    assert page.status_code == 200
    assert b"swagger-ui" in page.content
    assert b"cdn.jsdelivr.net" not in page.content
