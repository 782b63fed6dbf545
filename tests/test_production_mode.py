"""DJANGO_DEBUG=0: required settings, a clean `check --deploy`, no debug pages."""

import os
import subprocess
import sys

import pytest

from procs import ROOT

DOCUMENTED = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "x7Kp2mQv9Lr4Tz8Wc1Ny6Hb3Jd5Fs0Ga-uE_iO7pR2sT9vX4yZ1qW8eR5tY3uI6oP",
    "DJANGO_ALLOWED_HOSTS": "monitor.example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def test_check_deploy_is_clean_with_the_documented_environment(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", VAR_DIR=str(tmp_path), **DOCUMENTED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_its_secret_and_hosts(tmp_path, missing):
    env = {k: v for k, v in DOCUMENTED.items() if k != missing}
    result = manage("check", VAR_DIR=str(tmp_path), **env)
    assert result.returncode != 0
    assert f"{missing} must be set when DJANGO_DEBUG=0" in result.stderr


@pytest.mark.mysql
def test_check_database_raises_nothing_on_mysql_strict_mode(tmp_path, mysql_url):
    url = mysql_url.rstrip("/") + "/information_schema"
    result = manage(
        "check",
        "--database",
        "default",
        "--fail-level",
        "WARNING",
        VAR_DIR=str(tmp_path),
        DATABASE_URL=url,
        **DOCUMENTED,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_a_missing_page_shows_no_debug_information(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"URLconf" not in response.content and b"Traceback" not in response.content
