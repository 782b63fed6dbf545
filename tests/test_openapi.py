"""/monitor/schema/ describes every endpoint, every answer typed; /monitor/docs/ serves Swagger UI offline.

Generated clients and Postman are built from the schema alone: an answer the
schema leaves free-form becomes a dict in a client, a missing status an
"unexpected" error, a security requirement per operation a header Postman's
collection setting cannot change. The answers themselves are checked against
the schema here and by tests/test_fuzz_schema.py.
"""

import copy

import jsonschema
import pytest
import yaml
from django.test import override_settings

from monitor.api.auth import issue_token
from monitor.api.schemas import EXAMPLE_HOST, EXAMPLE_NAME, EXAMPLE_TS_US
from monitor.models import Series
from samples import store

pytestmark = pytest.mark.django_db


def schema_of(client, **headers) -> dict:
    response = client.get("/monitor/schema/?format=json", **headers)
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def resolve(schema: dict, node: object) -> object:
    """`node` with every $ref replaced by its component, and OpenAPI's nullable as JSON Schema says it."""
    if isinstance(node, list):
        return [resolve(schema, each) for each in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return resolve(schema, schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]])
    found = {key: resolve(schema, value) for key, value in node.items() if key not in ("nullable", "readOnly")}
    if node.get("nullable"):
        return {"anyOf": [found, {"type": "null"}]}
    return found


def assert_matches(schema: dict, path: str, method: str, status: int, body: object) -> None:
    described = schema["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    jsonschema.validate(body, resolve(schema, described))


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
    list_params = {p["name"] for p in schema["paths"]["/monitor/resources/"]["get"]["parameters"]}
    assert {"cursor", "page_size", "ordering", "name", "name_prefix", "host", "since", "until"} <= list_params


def test_every_answer_of_every_operation_has_a_typed_schema(client):
    schema = schema_of(client)
    for path, method, operation in operations(schema):
        statuses = set(operation["responses"])
        assert any(status.startswith("2") for status in statuses), (method, path)
        if path != "/monitor/health/":
            assert {"401", "403", "429", "503"} <= statuses, (method, path, statuses)
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= statuses, (method, path, statuses)
        for status, answer in operation["responses"].items():
            if status == "204":
                assert "content" not in answer
                continue
            media = answer["content"].get("application/json") or next(iter(answer["content"].values()))
            described = resolve(schema, media["schema"])
            assert described != {"type": "object"}, (method, path, status)  # free-form: a dict in a client
            assert "type" in described or "oneOf" in described or "anyOf" in described, (method, path, status)
            if status in ("429", "503") and path != "/monitor/health/":
                assert "Retry-After" in answer["headers"], (method, path, status)
    assert schema["paths"]["/monitor/resources/{id}/"]["get"]["responses"]["404"]["content"]


def test_a_create_answers_a_sample_or_a_count_and_its_errors_have_their_own_shapes(client):
    schema = schema_of(client)
    create = schema["paths"]["/monitor/resources/"]["post"]
    assert create["requestBody"]["required"] is True
    assert create["requestBody"]["content"]["application/json"]["schema"]["oneOf"][1]["type"] == "array"
    path, method = "/monitor/resources/", "post"

    one = client.post(path, {"name": "cpu.percent", "value": 1.5, "host": "web-1"}, content_type="application/json")
    assert one.status_code == 201
    assert_matches(schema, path, method, 201, one.json())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(one.json(), resolve(schema, schema["components"]["schemas"]["BulkCreated"]))

    many = client.post(path, [{"name": "cpu.percent", "value": 2}] * 2, content_type="application/json")
    assert many.status_code == 201 and many.json() == {"created": 2}
    assert_matches(schema, path, method, 201, many.json())

    field_errors = client.post(path, {"name": "cpu.percent", "value": "NaN"}, content_type="application/json")
    assert field_errors.status_code == 400 and set(field_errors.json()) == {"value"}
    jsonschema.validate(field_errors.json(), resolve(schema, schema["components"]["schemas"]["FieldErrors"]))
    item_errors = client.post(path, [{"name": "x", "value": 1}, {"value": 1}], content_type="application/json")
    assert item_errors.status_code == 400
    jsonschema.validate(item_errors.json(), resolve(schema, schema["components"]["schemas"]["BulkItemErrors"]))

    stored = {"name": "c", "value": 1, "timestamp": "2026-11-25T10:00:00Z"}
    client.post(path, stored, content_type="application/json")
    clash = client.post(path, {**stored, "value": 2}, content_type="application/json")
    assert clash.status_code == 409
    jsonschema.validate(clash.json(), resolve(schema, schema["components"]["schemas"]["SampleConflict"]))
    clashes = client.post(path, [{**stored, "value": 3}], content_type="application/json")
    assert clashes.status_code == 409
    jsonschema.validate(clashes.json(), resolve(schema, schema["components"]["schemas"]["BulkConflict"]))


@pytest.mark.django_db(transaction=True)  # health checks the token on a thread (and connection) of its own
def test_health_answers_both_its_shapes_as_documented(client, settings):
    settings.API_REQUIRE_AUTH = True
    schema = schema_of(client, HTTP_AUTHORIZATION=f"Bearer {issue_token('schema', 'read')[1]}")
    _, key = issue_token("health", "read")
    anonymous = client.get("/monitor/health/")
    detailed = client.get("/monitor/health/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert "checks" not in anonymous.json() and "checks" in detailed.json()
    for answer in (anonymous, detailed):
        assert_matches(schema, "/monitor/health/", "get", answer.status_code, answer.json())


def test_application_and_hosts_answer_as_documented(client):
    schema = schema_of(client)
    store("load.1m", 1.0, host="web-1")
    assert_matches(schema, "/monitor/hosts/", "get", 200, client.get("/monitor/hosts/").json())
    assert_matches(schema, "/monitor/application/", "get", 200, client.get("/monitor/application/").json())


def test_security_is_one_bearer_scheme_at_the_top_for_the_collection_to_carry(client):
    schema = schema_of(client)
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["tokenAuth"]["description"],
    }
    assert schema["security"][0] == {"tokenAuth": []}
    for path, method, operation in operations(schema):
        if path == "/monitor/health/":
            assert operation["security"] == [{"tokenAuth": []}, {}]  # open, a token shows the details
        else:
            assert "security" not in operation, (method, path)  # inherited: Postman's collection auth applies


def test_the_server_is_where_the_schema_was_asked_or_api_server_url(client):
    assert schema_of(client)["servers"] == [{"url": "http://testserver", "description": "this monitor"}]
    with override_settings(API_SERVER_URL="https://monitor.example.com/"):
        assert schema_of(client)["servers"][0]["url"] == "https://monitor.example.com"


def test_every_request_body_is_required(client):
    for path, method, operation in operations(schema_of(client)):
        if "requestBody" in operation:
            assert operation["requestBody"]["required"] is True, (method, path)


def test_the_sample_id_example_is_the_example_samples_id_here(client):
    def id_examples(schema: dict) -> set[str]:
        found = set()
        for operation in schema["paths"]["/monitor/resources/{id}/"].values():
            (parameter,) = [p for p in operation["parameters"] if p["name"] == "id"]
            found |= {shown["value"] for shown in parameter["examples"].values()}
        return found

    store("other", 1.0)  # series 1 is another one
    before = id_examples(schema_of(client))
    row = store(EXAMPLE_NAME, 12.5, host=EXAMPLE_HOST)
    series_id = Series.objects.get(name=EXAMPLE_NAME, host=EXAMPLE_HOST).id
    assert id_examples(schema_of(client)) == {f"{series_id}-{EXAMPLE_TS_US}"} != before
    assert row.series_id == series_id


def test_every_parameter_example_is_a_plain_value(client):
    """openapi-to-postmanv2 sends an example that has a summary beside its value as two parameters."""
    for _, _, operation in operations(schema_of(client)):
        for parameter in operation.get("parameters", []):
            for shown in parameter.get("examples", {}).values():
                assert set(shown) == {"value"}, parameter


def test_a_stored_sample_always_carries_every_field_but_sending_them_is_optional(client):
    components = copy.deepcopy(schema_of(client)["components"]["schemas"])
    assert set(components["Resource"]["required"]) == set(components["Resource"]["properties"])
    assert set(components["ResourceRequest"]["required"]) == {"name", "value"}
    assert "required" not in components["PatchedResourceRequest"]
    for name in ("ResourceRequest", "PatchedResourceRequest"):
        # A default here is sent by generated clients, and a PATCH must send only what it changes.
        assert all("default" not in field for field in components[name]["properties"].values()), name


def test_the_docs_page_loads_its_assets_from_this_server(client):
    page = client.get("/monitor/docs/")
    assert page.status_code == 200
    assert b"swagger-ui" in page.content
    assert b"cdn.jsdelivr.net" not in page.content
