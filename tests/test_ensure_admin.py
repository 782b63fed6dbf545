"""`make run`'s ensure_admin: a first-run superuser for the embedded mode, and a login line that stays true."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def run() -> str:
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


def test_the_first_run_creates_the_admin_and_prints_a_password_that_logs_in(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.API_REQUIRE_AUTH = False
    line = run()
    password = line.split("password ")[1].strip().strip("'")
    assert User.objects.get(username="admin").check_password(password)
    assert run() == line


def test_after_the_password_changed_it_does_not_print_the_old_one(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.API_REQUIRE_AUTH = False
    old = run().split("password ")[1].strip().strip("'")
    admin = User.objects.get(username="admin")
    admin.set_password("a-new-password-of-mine")
    admin.save()
    line = run()
    assert old not in line and "the password you set" in line


def test_in_production_it_creates_no_superuser(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.API_REQUIRE_AUTH = True
    assert "no admin created" in run()
    assert not User.objects.exists()
