"""Tokens and the access policy of production mode (API_REQUIRE_AUTH)."""

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from monitor.api.auth import TokenAuthentication, issue_token
from monitor.api.throttling import TokenWriteThrottle
from monitor.models import ApiToken, Resource

pytestmark = pytest.mark.django_db
URL = "/monitor/resources/"
NOTES_BODY = {"name": "CPU Usage", "value": 75.5, "description": "Average CPU usage in percentage"}


@pytest.fixture
def production(settings):
    settings.API_REQUIRE_AUTH = True
    settings.API_PUBLIC_READS = False
    cache.clear()


def auth(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Token {key}"}


def test_the_embedded_mode_accepts_the_notes_post_without_a_token(client, settings):
    settings.API_REQUIRE_AUTH = False
    assert client.post(URL, NOTES_BODY, content_type="application/json").status_code == 201


def test_an_unauthenticated_write_gets_401_and_writes_nothing(client, production):
    response = client.post(URL, NOTES_BODY, content_type="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert Resource.objects.count() == 0


def test_a_read_only_token_reads_but_cannot_write(client, production):
    _, key = issue_token("dashboard", "read")
    assert client.get(URL, **auth(key)).status_code == 200
    response = client.post(URL, NOTES_BODY, content_type="application/json", **auth(key))
    assert response.status_code == 403
    assert Resource.objects.count() == 0


def test_a_read_write_token_writes(client, production):
    _, key = issue_token("agent", "write")
    response = client.post(URL, NOTES_BODY, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 201
    assert ApiToken.objects.get().last_used_at is not None


def test_a_revoked_or_unknown_token_is_refused(client, production):
    token, key = issue_token("old", "write")
    call_command("tokens", "revoke", str(token.id))
    assert client.get(URL, **auth(key)).status_code == 401
    assert client.get(URL, **auth("dbm_made-up")).status_code == 401


def test_reads_need_a_token_or_an_admin_session_unless_public(client, production, settings):
    assert client.get(URL).status_code == 401
    client.force_login(User.objects.create_user("viewer", is_staff=True))
    assert client.get(URL).status_code == 200
    client.logout()
    settings.API_PUBLIC_READS = True
    assert client.get(URL).status_code == 200
    assert client.post(URL, NOTES_BODY, content_type="application/json").status_code == 401


def test_a_session_of_a_user_who_is_not_staff_cannot_read(client, production):
    client.force_login(User.objects.create_user("not-staff"))
    response = client.get(URL)
    assert response.status_code == 403
    assert "staff" in response.json()["detail"]


def test_a_session_stops_reading_once_its_user_is_no_longer_staff_or_active(client, production):
    user = User.objects.create_user("former-admin", is_staff=True)
    client.force_login(user)
    assert client.get(URL).status_code == 200
    User.objects.filter(pk=user.pk).update(is_staff=False)
    assert client.get(URL).status_code == 403
    User.objects.filter(pk=user.pk).update(is_staff=True, is_active=False)
    # An inactive user's session no longer authenticates at all: anonymous, asked for credentials.
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_token_request_has_a_user_object_that_is_not_staff(production):
    token, key = issue_token("agent on db-1", "write")
    request = Request(
        APIRequestFactory().get(URL, HTTP_AUTHORIZATION=f"Token {key}"), authenticators=[TokenAuthentication()]
    )
    user = request.user
    assert user is not None and request.auth == token
    assert user.is_authenticated and not user.is_anonymous
    assert not user.is_staff and not user.is_superuser
    assert not user.has_perm("monitor.delete_resource")
    assert user.pk is None and "agent on db-1" in str(user)
    # The Django request sees the same user (middleware and logging read it there).
    assert request._request.user is user


def test_a_request_without_credentials_has_the_anonymous_user(production):
    request = Request(APIRequestFactory().get(URL), authenticators=[TokenAuthentication()])
    assert isinstance(request.user, AnonymousUser) and not request.user.is_authenticated


def test_writes_beyond_the_rate_get_429_with_retry_after(client, production, monkeypatch):
    monkeypatch.setattr(TokenWriteThrottle, "rate", "3/minute", raising=False)
    _, key = issue_token("agent", "write")
    codes = [client.post(URL, NOTES_BODY, content_type="application/json", **auth(key)).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    response = client.post(URL, NOTES_BODY, content_type="application/json", **auth(key))
    assert int(response["Retry-After"]) > 0
    assert Resource.objects.count() == 3
    # Another token has its own budget; reads are never throttled.
    _, other = issue_token("agent-2", "write")
    assert client.post(URL, NOTES_BODY, content_type="application/json", **auth(other)).status_code == 201
    assert client.get(URL, **auth(key)).status_code == 200


def test_the_tokens_command_creates_lists_and_revokes(capsys):
    call_command("tokens", "create", "agent on db-1", "--scope", "write")
    key = capsys.readouterr().out.strip()
    assert key.startswith("dbm_")
    token = ApiToken.objects.get()
    assert token.scope == "write" and key.startswith(token.prefix) and key not in token.key_hash
    call_command("tokens", "list")
    assert "agent on db-1" in capsys.readouterr().out
    call_command("tokens", "revoke", token.prefix)
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_leaked_key_revokes_its_token_as_given(capsys):
    _, key = issue_token("agent on db-2", "write")
    call_command("tokens", "revoke", key)
    assert ApiToken.objects.get().revoked_at is not None


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_token_needs_a_name_that_fits(name):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="1 to 100 characters"):
        call_command("tokens", "create", name)
    assert not ApiToken.objects.exists()


def test_the_admin_issues_a_token_and_shows_its_key_once(admin_client):
    response = admin_client.post("/admin/monitor/apitoken/add/", {"name": "frontend", "scope": "read"}, follow=True)
    assert response.status_code == 200
    token = ApiToken.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    assert any(token.prefix in message and "dbm_" in message for message in shown)


def test_the_admin_is_staff_only(client):
    client.force_login(User.objects.create_user("not-staff", password="pw-123456"))
    assert client.get("/admin/").status_code == 302


def test_the_admin_index_names_them_api_tokens(admin_client):
    assert "API tokens" in admin_client.get("/admin/").content.decode()
