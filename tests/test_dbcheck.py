"""`manage.py dbcheck`: a one-line verdict on the configured database, and an exit code.

The failure cases run the real command line in a child process pointed at a server
that is not there (or never answers), as an operator would meet it.
"""

import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import call_command

from procs import ROOT, closed_port, frozen_server

PASSWORD = "s3cret"


def _dbcheck(tmp_path: Path, database_url: str) -> tuple[subprocess.CompletedProcess, float]:
    # VAR_DIR keeps the child away from the developer's var/ (SQLite file, broker).
    env = {**os.environ, "DATABASE_URL": database_url, "VAR_DIR": str(tmp_path)}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", "dbcheck"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    return result, time.monotonic() - started


def _verdict(stream: str) -> str:
    """The verdict line, without the `CommandError: ` label Django puts before an error."""
    lines = [line for line in stream.splitlines() if line.strip()]
    assert lines, "no output"
    return lines[-1].removeprefix("CommandError: ")


def test_it_says_ok_on_the_default_database(db):
    out = StringIO()

    call_command("dbcheck", stdout=out)

    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("OK ")


def test_it_fails_fast_and_hides_the_password_when_nothing_listens(tmp_path):
    port = closed_port()

    result, elapsed = _dbcheck(tmp_path, f"mysql://root:{PASSWORD}@127.0.0.1:{port}/x")

    assert result.returncode != 0
    verdict = _verdict(result.stderr)
    assert verdict.startswith(f"FAIL mysql root@127.0.0.1:{port}/x"), result.stderr
    assert "OK" not in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    assert elapsed < 10


def test_it_gives_up_after_the_connect_timeout_when_the_server_never_answers(tmp_path):
    # The port accepts TCP connections but never sends the MySQL greeting.
    with frozen_server() as port:
        result, elapsed = _dbcheck(tmp_path, f"mysql://root:{PASSWORD}@127.0.0.1:{port}/x?connect_timeout=1")

    assert result.returncode != 0
    assert _verdict(result.stderr).startswith("FAIL mysql "), result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert elapsed < 10


@pytest.mark.mysql
def test_it_says_ok_and_names_mysql_on_a_real_server(mysql_url, tmp_path):
    # information_schema exists on every server and every account may use it.
    url = urlunsplit(urlsplit(mysql_url)._replace(path="/information_schema"))

    result, _ = _dbcheck(tmp_path, url)

    assert result.returncode == 0, result.stderr
    verdict = _verdict(result.stdout)
    assert verdict.startswith("OK mysql "), result.stdout
    assert "/information_schema (mysql " in verdict
    password = urlsplit(mysql_url).password
    if password:
        assert password not in result.stdout + result.stderr
