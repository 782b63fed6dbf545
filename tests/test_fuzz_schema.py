"""Every operation of the OpenAPI schema, fuzzed in-process by schemathesis.

The schema is the one the app serves (/monitor/schema/, drf-spectacular); the
requests go through the real WSGI application and the test database, under the
production access policy (a read-write token; schemathesis also probes without
it and with a wrong one). A 5xx the operation does not document (503 is, for
health and collect), an answer that does not match its documented schema,
status code, content type or headers, or an operation that ignores
authentication fails the test. Bounded: MAX_EXAMPLES cases per operation.
"""

import base64
from datetime import datetime

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from answers import assert_names_what_was_wrong
from db_django.celery import app as celery_app
from db_django.filesystem_broker import transport_options
from db_django.wsgi import application
from monitor.api.auth import issue_token
from samples import store
from strategies import moments, rfc3339

MAX_EXAMPLES = 30


MOMENTS = moments(st.datetimes(min_value=datetime.min, max_value=datetime.max))
schemathesis.openapi.format("date-time", st.builds(rfc3339, MOMENTS, st.integers(-1439, 1439)))
schema = schemathesis.openapi.from_wsgi("/monitor/schema/?format=json", application)
# Prometheus remote write bodies (snappy-compressed protobuf) are bytes, sent as any binary body.
schemathesis.serializer.alias("application/x-protobuf", "application/octet-stream")

# The API is deliberately more lenient than the schema it publishes: numbers are
# accepted for text fields (as DRF's CharField does), empty query parameters are
# ignored (django-filter), `step`/`name` of a series are checked by the view. So
# "schema-violating request accepted" and "schema-valid request rejected" with a 4xx
# are not failures here; every other check is.
LENIENT_BY_DESIGN = [negative_data_rejection, positive_data_acceptance]


@pytest.fixture(autouse=True)
def private_broker(tmp_path, monkeypatch):
    """A filesystem broker of this test's own: POST /monitor/collect/ queues into it, and no worker consumes it.

    Celery reads CELERY_BROKER_URL from the environment before its config, so both are switched.
    """
    monkeypatch.setenv("CELERY_BROKER_URL", "filesystem://")
    saved = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    celery_app.conf.broker_url = "filesystem://"
    celery_app.conf.broker_transport_options = transport_options(tmp_path / "broker")
    yield
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = saved


def assert_no_undocumented_server_error(case, response, headers: dict) -> None:
    documented = set(case.operation.definition.raw.get("responses", {}))
    code = response.status_code
    assert code < 500 or str(code) in documented, (
        f"{case.operation.label} answered {code} (documented: {sorted(documented)}) to\n"
        f"{case.as_curl_command(headers=headers)}\n{response.text[:2000]}"
    )


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_conforms_to_the_schema(case, settings):
    settings.API_REQUIRE_AUTH = True
    settings.API_AUTH_FAILURE_RATE = "100000/minute"  # schemathesis sends bad bearer tokens on purpose, many
    _, key = issue_token("fuzz", "write")  # a token per example: the write throttle never kicks in
    if str(case.path_parameters.get("id")).isdigit():
        # A generated integer id almost never exists: aim at a real row so the
        # 200 paths of GET/PUT/PATCH/DELETE meet the fuzzed bodies.
        row = store(name="fuzz.target", value=1.0, host="fuzz")
        case.path_parameters["id"] = row.id
    headers = {"Authorization": f"Token {key}"}
    response = case.call(headers=headers)
    assert_no_undocumented_server_error(case, response, headers)
    # not_a_server_error is replaced by the assertion above, which allows the documented 503s.
    case.validate_response(response, headers=headers, excluded_checks=[not_a_server_error, *LENIENT_BY_DESIGN])


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


R = "/monitor/resources/"
# Requests fuzzing has shown to be dangerous, pinned so every run sends them: each
# must be refused with a 4xx (or accepted), never answered with a 5xx.
EDGE_REQUESTS = [
    ("post-year-1-east-of-utc", "post", R, '{"name": "m", "value": 1, "timestamp": "0001-01-01T00:00:00+01:00"}'),
    ("post-year-9999-west-of-utc", "post", R, '{"name": "m", "value": 1, "timestamp": "9999-12-31T23:59:59-01:00"}'),
    ("bulk-year-1-east-of-utc", "post", R, '[{"name": "m", "value": 1, "timestamp": "0001-01-01T00:30:00+01:00"}]'),
    ("post-lone-surrogate-name", "post", R, '{"name": "\\ud800", "value": 1}'),
    ("post-lone-surrogate-description", "post", R, '{"name": "m", "value": 1, "description": "\\udfff"}'),
    ("bulk-lone-surrogate-host", "post", R, '[{"name": "m", "value": 1, "host": "\\udc00"}]'),
    ("post-json-nested-5000-deep", "post", R, "[" * 5000 + "]" * 5000),
    ("patch-year-1-east-of-utc", "patch", R + "{id}/", '{"timestamp": "0001-01-01T00:00:00+01:00"}'),
    ("patch-lone-surrogate-name", "patch", R + "{id}/", '{"name": "\\ud800"}'),
    ("list-since-year-1-east-of-utc", "get", R + "?since=0001-01-01T00:00:00%2B01:00", None),
    ("list-until-year-9999-west-of-utc", "get", R + "?until=9999-12-31T23:59:59-01:00", None),
    ("latest-since-year-1-east-of-utc", "get", R + "latest/?since=0001-01-01T00:00:00%2B01:00", None),
    ("list-cursor-id-1e400", "get", R + "?cursor=" + _cursor('["2026-01-01T00:00:00+00:00", 1e400, 0]'), None),
    ("list-cursor-year-1-east-of-utc", "get", R + "?cursor=" + _cursor('["0001-01-01T00:00:00+01:00", 1, 0]'), None),
    (
        "list-cursor-id-1e20",
        "get",
        R + "?cursor=" + _cursor('["2026-01-01T00:00:00+00:00", 100000000000000000000, 0]'),
        None,
    ),
    ("series-until-year-1", "get", R + "series/?name=m&until=0001-01-01T00:30:00Z", None),
    (
        "series-since-year-1-east-of-utc",
        "get",
        R + "series/?name=m&since=0001-01-01T00:00:00%2B01:00&until=0001-01-02T00:00:00Z",
        None,
    ),
    ("series-until-year-9999-west-of-utc", "get", R + "series/?name=m&until=9999-12-31T23:59:59-01:00", None),
    ("series-step-1e14-seconds", "get", R + "series/?name=m&step=100000000000000", None),
    ("series-step-1e9-days", "get", R + "series/?name=m&step=1000000000d", None),
]


@pytest.mark.django_db
@pytest.mark.parametrize("method, path, body", [pytest.param(*case[1:], id=case[0]) for case in EDGE_REQUESTS])
def test_an_edge_request_is_never_answered_with_a_server_error(client, method, path, body):
    row = store(name="m", value=1.0)
    kwargs = {} if body is None else {"data": body, "content_type": "application/json"}
    response = getattr(client, method)(path.replace("{id}", row.id), **kwargs)
    assert response.status_code < 500, response.content[:300]  # (an exception in the view is raised here)
    if response.status_code >= 400:
        assert_names_what_was_wrong(response.json())
