"""Password and token guessing: admin logins lock out per user and address, failed tokens are throttled.

Logins go through the real admin login view (django-axes records failures in
the database, not the cache); tokens through the API. Addresses are set as the
WSGI server would (REMOTE_ADDR), or as the README's proxy would (X-Forwarded-For).
"""

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command

from monitor.api.auth import issue_token

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
PASSWORD = "right-horse-battery"
ATTACKER, OTHER = "198.51.100.10", "198.51.100.20"
URL = "/monitor/resources/"


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser("admin", password=PASSWORD)


def login(client, password: str, address: str = ATTACKER, username: str = "admin", **extra):
    form = {"username": username, "password": password, "next": "/admin/"}
    return client.post(LOGIN, form, REMOTE_ADDR=address, **extra)


def fail_until_locked(client, settings, address: str = ATTACKER, **extra) -> list[int]:
    return [login(client, "wrong", address, **extra).status_code for _ in range(settings.AXES_FAILURE_LIMIT)]


def test_a_wrong_password_shows_the_form_again_until_the_limit(client, admin_user, settings):
    codes = fail_until_locked(client, settings)
    # The form again (200) for each failure but the last, which locks the account for this address.
    assert codes == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]


def test_after_the_limit_even_the_right_password_is_refused_saying_when_to_retry(client, admin_user, settings):
    fail_until_locked(client, settings)
    response = login(client, PASSWORD)
    assert response.status_code == 429
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert int(response["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert f"{minutes} minutes" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_another_address_is_not_locked_out(client, admin_user, settings):
    fail_until_locked(client, settings)
    assert login(client, PASSWORD, OTHER).status_code == 302
    assert "_auth_user_id" in client.session


def test_another_user_from_the_same_address_is_not_locked_out(client, admin_user, settings):
    User.objects.create_superuser("operator", password=PASSWORD)
    fail_until_locked(client, settings)
    assert login(client, PASSWORD, username="operator").status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, admin_user, settings):
    from axes.models import AccessAttempt

    fail_until_locked(client, settings)
    assert login(client, PASSWORD).status_code == 429
    # As if the cool-off had passed since the last attempt.
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME)
    assert login(client, PASSWORD).status_code == 302


def test_an_administrator_unlocks_with_a_management_command(client, admin_user, settings):
    fail_until_locked(client, settings)
    call_command("axes_reset_username", "admin")
    assert login(client, PASSWORD).status_code == 302


def test_a_successful_login_forgets_earlier_failures(client, admin_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, "wrong")
    assert login(client, PASSWORD).status_code == 302
    client.logout()
    assert login(client, "wrong").status_code == 200  # counting starts again


def test_a_forged_forwarded_address_does_not_escape_the_lockout(client, admin_user, settings):
    settings.TRUST_X_FORWARDED_FOR = False
    for n in range(settings.AXES_FAILURE_LIMIT):
        login(client, "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert login(client, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200").status_code == 429


def test_behind_the_proxy_the_forwarded_address_is_the_client(client, admin_user, settings):
    settings.TRUST_X_FORWARDED_FOR = True
    proxy = "127.0.0.1"
    # The proxy appends the address it saw; whatever the client sent before it is not trusted.
    fail_until_locked(client, settings, proxy, HTTP_X_FORWARDED_FOR=f"10.9.9.9, {ATTACKER}")
    assert login(client, PASSWORD, proxy, HTTP_X_FORWARDED_FOR=ATTACKER).status_code == 429
    assert login(client, PASSWORD, proxy, HTTP_X_FORWARDED_FOR=OTHER).status_code == 302


# --- tokens ----------------------------------------------------------------------------------


@pytest.fixture
def production(settings):
    settings.API_REQUIRE_AUTH = True
    settings.API_PUBLIC_READS = False
    settings.API_AUTH_FAILURE_RATE = "5/minute"
    cache.clear()


def get(client, key: str, address: str = ATTACKER):
    return client.get(URL, HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=address)


def test_invalid_tokens_get_429_with_retry_after_beyond_the_failure_rate(client, production):
    codes = [get(client, f"dbm_guess-{n}").status_code for n in range(6)]
    assert codes == [401] * 5 + [429]
    refused = get(client, "dbm_guess-again")
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
    assert "token" in refused.json()["detail"].lower()
    # A malformed header counts as a failure too.
    assert client.get(URL, HTTP_AUTHORIZATION="Token a b", REMOTE_ADDR=ATTACKER).status_code == 429


def test_a_valid_token_is_never_slowed_and_other_addresses_are_unaffected(client, production):
    _, key = issue_token("agent", "read")
    for n in range(8):
        get(client, f"dbm_guess-{n}")
    assert [get(client, key).status_code for _ in range(10)] == [200] * 10
    assert get(client, "dbm_typo", OTHER).status_code == 401
