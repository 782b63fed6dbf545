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


@pytest.mark.parametrize("url", ["postgres://x@h/db", "mysql://root@127.0.0.1:3306/"])
def test_an_unusable_database_url_is_a_clear_error(url, tmp_path):
    with pytest.raises(ConfigError):
        database_from_url(url, tmp_path / "x")


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
