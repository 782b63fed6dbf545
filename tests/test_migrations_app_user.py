"""`migrate` runs as the least-privileged user sql/create_database.sql makes, and recovers from a missing grant.

The grants are read from the shipped script itself, so a privilege a new
migration needs and the script lacks fails here, not on an operator's server.
MySQL does not roll DDL back: a migration that fails half way must be able to
run again once the operator has fixed the cause.
"""

import os
import re
import secrets
import subprocess
import sys

import pytest

from procs import ROOT
from servers import connect_mysql, mysql_database_url, scratch_name

pytestmark = pytest.mark.mysql


def shipped_database_privileges() -> list[str]:
    """The privileges sql/create_database.sql grants the application on its database."""
    script = (ROOT / "sql" / "create_database.sql").read_text()
    found = re.search(r"^GRANT (.+?)\s+ON `db\\_django`\.\*", script, re.M | re.S)
    assert found, "sql/create_database.sql no longer grants on `db_django`.*"
    return [privilege.strip() for privilege in found.group(1).split(",")]


@pytest.fixture
def app_user_database(mysql_url, tmp_path):
    """A scratch database and a user holding exactly `privileges` on it; yields (grant, env)."""
    admin = connect_mysql(mysql_url, autocommit=True)
    database, user, password = scratch_name("grants"), scratch_name("app"), secrets.token_hex(8)
    cursor = admin.cursor()
    cursor.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))

    def grant(privileges: list[str]) -> None:
        cursor.execute(f"GRANT {', '.join(privileges)} ON `{database}`.* TO %s@'%%'", (user,))

    env = {
        **os.environ,
        "DATABASE_URL": mysql_database_url(mysql_url, database, user, password),
        "VAR_DIR": str(tmp_path),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    try:
        yield grant, env
    finally:
        cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
        cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        admin.close()


def migrate(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_migrate_as_the_shipped_app_user_without_create_view_names_the_grant_and_reruns_after_it(
    app_user_database,
):
    grant, env = app_user_database
    privileges = shipped_database_privileges()
    assert "CREATE VIEW" in privileges and "SHOW VIEW" in privileges
    grant([p for p in privileges if p not in ("CREATE VIEW", "SHOW VIEW")])

    refused = migrate(env)
    assert refused.returncode != 0
    assert "CREATE VIEW and SHOW VIEW" in refused.stderr
    assert "sql/create_database.sql" in refused.stderr

    grant(["CREATE VIEW", "SHOW VIEW"])  # what the operator does; then the same command again
    done = migrate(env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Applying monitor.0011_resource_view... OK" in done.stdout
    check = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
