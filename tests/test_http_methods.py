"""Methods the API does not serve: 405 JSON naming the method from the app, 400 from the server in front; never 500.

The app sees whatever method reaches it (Django's development server passes any
token); gunicorn, the production web server, refuses a lowercase or overlong
method itself with its own 400 before the app sees it.
"""

import pytest

import procs
from monitor.api.auth import issue_token
from webserver import DOCUMENTED_ARGS, production_web

URL = "/monitor/resources/"
PATHS = ["/monitor/", URL, f"{URL}1-1/", f"{URL}latest/", "/monitor/application/", "/monitor/health/"]
UNSERVED = ["TRACE", "PROPFIND", "MKCOL", "X" * 100]


@pytest.mark.django_db
@pytest.mark.parametrize("method", UNSERVED, ids=lambda m: m[:12])
@pytest.mark.parametrize("path", PATHS)
def test_the_app_answers_a_method_it_does_not_serve_with_405_json_naming_it(client, method, path):
    response = client.generic(method, path)
    assert response.status_code == 405, response.content[:200]
    assert response.json() == {"detail": f'Method "{method}" not allowed.'}
    assert "GET" in response["Allow"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.redis
def test_the_production_server_refuses_odd_methods_and_keeps_serving(tmp_path, redis_url):
    _, key = issue_token("odd methods", "write")  # production answers 401/403 before it looks at the method
    args = [*DOCUMENTED_ARGS, "--workers", "1"]
    with production_web(tmp_path, procs.test_database_url(), redis_url, args=args) as web:
        for method in ("TRACE", "PROPFIND"):
            answer = web.call(method, URL, token=key)
            assert answer.status == 405 and answer.body == {"detail": f'Method "{method}" not allowed.'}, answer
        for method in ("get", "Post", "X" * 100):
            answer = web.call(method, URL, token=key)
            # gunicorn's own page, before the app: "Invalid HTTP method" / "Bad Request"
            assert answer.status == 400 and b"Bad Request" in answer.raw, (method, answer)
        assert web.call("GET", URL, token=key).status == 200
        assert "Traceback" not in web.log_text() and web.proc.poll() is None
