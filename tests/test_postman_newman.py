"""Postman as the README tells a person to use it: the schema converted by openapi-to-postmanv2, run by newman.

The collection is converted from the live /monitor/schema/ (the converter Postman's
importer uses, with the one import setting the README names) and run unedited,
the server and key given as variables: every request must answer 2xx, carrying the
token the collection sets for all of them.
"""

import json
import re
import subprocess

import pytest
from live_api import live_api, npm_tool

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# README "OpenAPI, Swagger UI, Postman": Import settings -> Parameter generation: Example.
# (The converter's default, Schema, fills every value with a placeholder such as <double>.)
CONVERT_OPTIONS = "parametersResolution=Example"


def convert(schema_file, collection_file) -> dict:
    subprocess.run(
        [npm_tool("openapi2postmanv2"), "-s", str(schema_file), "-o", str(collection_file), "-O", CONVERT_OPTIONS],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return json.loads(collection_file.read_text())


def requests_of(items: list) -> list[dict]:
    found = []
    for item in items:
        found += requests_of(item["item"]) if "item" in item else [item]
    return found


def operations(schema: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in schema["paths"].items() for method in item}


def documented_parameters(schema: dict, item: dict) -> set[str]:
    """The query parameters of the operation a collection request was made from (by method and path)."""
    path = "/" + "/".join(item["request"]["url"]["path"])
    path = re.sub(r":(\w+)", r"{\1}", path)  # Postman's :name -> OpenAPI's {name}
    operation = schema["paths"][path][item["request"]["method"].lower()]
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}


def test_every_request_of_the_converted_collection_answers_2xx_in_newman(tmp_path):
    with live_api(tmp_path) as api:
        api.seed()
        schema_file = api.schema(tmp_path / "schema.json")
        collection = convert(schema_file, tmp_path / "collection.json")
        # The token is the collection's (Bearer {{bearerToken}}); requests inherit it, health says so itself.
        assert collection["auth"]["type"] == "bearer"
        assert {"key": "token", "value": "{{bearerToken}}", "type": "any"} in collection["auth"]["bearer"]
        items = requests_of(collection["item"])
        schema = json.loads(schema_file.read_text())
        assert len(items) == len(operations(schema))
        for item in items:  # each request sends the operation's parameters, named as documented
            sent = {q["key"] for q in item["request"]["url"].get("query", [])}
            assert sent <= documented_parameters(schema, item), (item["name"], sent)
        own = [item["request"]["auth"] for item in items if item["request"].get("auth")]
        assert all(auth["type"] == "bearer" for auth in own) and len(own) == 1  # health, open to anonymous clients
        report = tmp_path / "newman.json"
        run = subprocess.run(
            [
                npm_tool("newman"),
                "run",
                str(tmp_path / "collection.json"),
                "--env-var",
                f"baseUrl={api.url}",
                "--env-var",
                f"bearerToken={api.key}",
                "--timeout-request",
                "30000",
                "--reporters",
                "cli,json",
                "--reporter-json-export",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        executions = json.loads(report.read_text())["run"]["executions"]
    answered = {
        (e["request"]["method"], e["item"]["name"]): (e["response"]["code"], e["response"].get("stream"))
        for e in executions
    }
    assert len(executions) == len(items), run.stdout[-4000:]
    failed = {request: answer for request, answer in answered.items() if not 200 <= answer[0] < 300}
    assert not failed, _readable(failed)
    sent = [{h["key"].lower(): h["value"] for h in e["request"]["header"]}.get("authorization") for e in executions]
    assert sent == [f"Bearer {api.key}"] * len(executions)


def _readable(failed: dict) -> str:
    def body(stream) -> str:
        return bytes(stream["data"]).decode(errors="replace")[:300] if stream else ""

    return "\n".join(f"{method} {name}: {code} {body(stream)}" for (method, name), (code, stream) in failed.items())
