"""Security headers: a Content-Security-Policy on every answer, no-store on API answers,
and the headers a browser frontend on another origin needs to read.

Swagger UI, the admin and the browsable API under the HTML policy in a real
browser: tests/test_security_headers_browser.py.
"""

import re

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from monitor.api.auth import issue_token
from monitor.api.throttling import TokenWriteThrottle

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/"
BODY = {"name": "headers.sample", "value": 1.0}
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
ORIGIN = "http://localhost:5173"


@pytest.fixture
def production(settings):
    settings.API_REQUIRE_AUTH = True
    settings.API_PUBLIC_READS = False
    cache.clear()


def directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {d.split()[0]: " ".join(d.split()[1:]) for d in (p.strip() for p in policy.split(";")) if d}


def test_json_answers_allow_nothing_and_no_framing(client):
    answers = [
        client.get(URL, HTTP_ACCEPT="application/json"),
        client.post(URL, BODY, content_type="application/json"),
        client.post(URL, {"name": "x"}, content_type="application/json"),  # 400
        client.get("/monitor/no-such-thing/"),  # 404
        client.get("/monitor/health/"),
        client.get("/monitor/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"),
    ]
    for response in answers:
        assert response["Content-Security-Policy"] == DATA_POLICY, (response.status_code, response["Content-Type"])


def test_a_refused_body_carries_the_policy_too(client):
    response = client.post(URL, b"{}", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked")
    assert response.status_code == 411
    assert response["Content-Security-Policy"] == DATA_POLICY


@pytest.mark.parametrize("path", ["/admin/login/", "/monitor/", URL, "/monitor/docs/"])
def test_html_pages_load_only_their_own_assets_and_run_no_inline_script(client, path):
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    policy = directives(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'self'"


def test_swagger_ui_loads_its_init_script_from_this_origin_instead_of_inlining_it(client):
    page = client.get("/monitor/docs/").content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert scripts
    for attributes, inline in scripts:
        assert 'src="' in attributes and not inline.strip(), attributes
    init = re.findall(r'<script src="([^"]*script=[^"]*)"', page)
    assert len(init) == 1
    response = client.get(init[0].replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in response.content.decode()


def test_static_files_stay_cacheable(client, settings):
    settings.WHITENOISE_USE_FINDERS = settings.WHITENOISE_AUTOREFRESH = True  # serve without collectstatic
    response = client.get("/static/rest_framework/js/default.js")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_api_answers_are_not_stored_by_any_cache(client, production):
    _, key = issue_token("dashboard", "read")
    answers = {
        "token": client.get(URL, HTTP_AUTHORIZATION=f"Token {key}"),
        "anonymous 401": client.get(URL),
        "health": client.get("/monitor/health/"),
        "404": client.get("/monitor/no-such-thing/"),
    }
    client.force_login(User.objects.create_user("viewer"))
    answers["session"] = client.get(URL)
    for what, response in answers.items():
        assert "no-store" in response["Cache-Control"], what


def test_the_admin_keeps_its_own_never_cache_headers(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_a_frontend_on_an_allowed_origin_can_read_retry_after(client, production, settings, monkeypatch):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    monkeypatch.setattr(TokenWriteThrottle, "rate", "1/minute", raising=False)
    _, key = issue_token("agent", "write")
    headers = {"HTTP_ORIGIN": ORIGIN, "HTTP_AUTHORIZATION": f"Token {key}"}
    assert client.post(URL, BODY, content_type="application/json", **headers).status_code == 201
    throttled = client.post(URL, BODY, content_type="application/json", **headers)
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert throttled["Access-Control-Allow-Origin"] == ORIGIN
    exposed = [h.strip().lower() for h in throttled["Access-Control-Expose-Headers"].split(",")]
    assert "retry-after" in exposed
