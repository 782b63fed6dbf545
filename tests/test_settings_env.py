"""Environment parsing in db_django/env.py: bad values fail loudly."""

from pathlib import Path

import pytest

from db_django.env import ConfigError, database_from_url, envbool, envint, envrate


def test_a_mysql_url_becomes_a_strict_utf8mb4_connection(tmp_path):
    db = database_from_url("mysql://app:p%40ss@db.example:3307/monitor", tmp_path / "x.sqlite3")
    assert db["ENGINE"] == "django.db.backends.mysql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "monitor",
        "app",
        "p@ss",
        "db.example",
        "3307",
    )
    assert db["OPTIONS"]["charset"] == "utf8mb4"
    assert "STRICT_TRANS_TABLES" in db["OPTIONS"]["init_command"]


def test_no_url_means_the_embedded_sqlite_file(tmp_path):
    db = database_from_url("", tmp_path / "var" / "db.sqlite3")
    assert db["ENGINE"].endswith("sqlite3")
    assert db["NAME"] == tmp_path / "var" / "db.sqlite3"


def test_an_absolute_sqlite_url_keeps_its_path(tmp_path):
    assert database_from_url(f"sqlite:///{tmp_path}/a.db", Path("unused"))["NAME"] == tmp_path / "a.db"


@pytest.mark.parametrize(
    "url",
    [
        "postgres://x@h/db",
        "mysql://root@127.0.0.1:3306/",
        "mysql://root@127.0.0.1:abc/db",
        "mysql://root@127.0.0.1:99999/db",
        "mysql://root@127.0.0.1:3306/db?connect_timeout=x",
        "mysql://root@127.0.0.1:3306/db?read_timeout=0",
        "mysql://root@127.0.0.1:3306/db?foo=bar",
    ],
)
def test_an_unusable_database_url_is_a_clear_error_naming_it(url, tmp_path):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        database_from_url(url, tmp_path / "x")


def test_manage_py_says_what_is_wrong_in_one_line_without_a_traceback():
    import os
    import subprocess
    import sys

    from procs import ROOT

    env = {**os.environ, "DATABASE_URL": "mysql://root@127.0.0.1:3306/db?foo=bar"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("configuration error: DATABASE_URL option 'foo'") and "Traceback" not in done.stderr


def test_a_malformed_boolean_or_integer_raises(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    monkeypatch.setenv("COUNT", "ten")
    with pytest.raises(ConfigError):
        envbool("FLAG", False)
    with pytest.raises(ConfigError):
        envint("COUNT", 1)
    monkeypatch.setenv("COUNT", "0")
    with pytest.raises(ConfigError):
        envint("COUNT", 1, minimum=1)


@pytest.mark.parametrize("rate", ["lots", "600", "600/fortnight", "0/minute", "ten/minute"])
def test_a_malformed_rate_raises_naming_the_variable(rate, monkeypatch):
    monkeypatch.setenv("API_WRITE_RATE", rate)
    with pytest.raises(ConfigError, match="API_WRITE_RATE"):
        envrate("API_WRITE_RATE", "600/minute")


def test_a_rate_is_drfs_syntax(monkeypatch):
    monkeypatch.setenv("API_WRITE_RATE", "100/min")
    assert envrate("API_WRITE_RATE", "600/minute") == "100/min"
    monkeypatch.delenv("API_WRITE_RATE")
    assert envrate("API_WRITE_RATE", "600/minute") == "600/minute"
