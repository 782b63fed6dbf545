"""The notes' inspectdb workflow, end to end on a real MySQL/MariaDB server.

A table made in SQL (sql/legacy_user.sql) is reflected by `manage.py inspectdb user`
into the model the project keeps (monitor.models.LegacyUser), which then reads the
rows the SQL inserted and is managed in the admin. Each test run gets its own
scratch database, dropped afterwards, so the developer's databases are never touched.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import MySQLdb
import pytest
from MySQLdb.constants import CLIENT

from monitor.admin import LegacyUserAdmin
from monitor.models import LegacyUser
from procs import ROOT
from servers import connect_mysql, scratch_name

pytestmark = pytest.mark.mysql

LEGACY_SQL = ROOT / "sql" / "legacy_user.sql"


def _connect(url: str, **extra) -> MySQLdb.Connection:
    return connect_mysql(url, charset="utf8mb4", **extra)


def _load_legacy_sql(mysql_url: str, database: str) -> None:
    """Run sql/legacy_user.sql as `mysql database < sql/legacy_user.sql` would."""
    # The file is sent whole: the server, not a naive split on ';', finds the
    # statement boundaries and skips the comments.
    connection = _connect(mysql_url, database=database, client_flag=CLIENT.MULTI_STATEMENTS)
    try:
        cursor = connection.cursor()
        cursor.execute(LEGACY_SQL.read_text(encoding="utf-8"))
        while cursor.nextset():
            pass
        connection.commit()
    finally:
        connection.close()


@pytest.fixture
def scratch_db(mysql_url: str) -> Iterator[str]:
    """Name of a fresh database holding sql/legacy_user.sql; dropped at the end."""
    name = scratch_name("inspect")
    server = _connect(mysql_url)
    try:
        server.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        try:
            _load_legacy_sql(mysql_url, name)
            yield name
        finally:
            server.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        server.close()


@pytest.fixture
def scratch_url(mysql_url: str, scratch_db: str) -> str:
    return urlunsplit(urlsplit(mysql_url)._replace(path=f"/{scratch_db}"))


def _manage(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    # VAR_DIR keeps the child away from the developer's var/ (SQLite file, broker).
    env = {**os.environ, "DATABASE_URL": database_url, "VAR_DIR": str(tmp_path)}
    # The status collector's targets default from DATABASE_URL; an inherited list must not override it.
    env.pop("MONITOR_MYSQL_URLS", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_it_reflects_the_legacy_table_as_an_unmanaged_user_model(scratch_url, tmp_path):
    result = _manage(tmp_path, scratch_url, "inspectdb", "user")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "class User(models.Model):" in out
    assert "name = models.CharField(max_length=100)" in out
    assert "email = models.CharField(unique=True, max_length=254)" in out
    assert "created_at = models.DateTimeField(blank=True, null=True)" in out
    assert "managed = False" in out
    assert "db_table = 'user'" in out


def test_it_keeps_the_project_model_in_step_with_the_reflected_table():
    # The same columns inspectdb reads from sql/legacy_user.sql (see the test above).
    meta = LegacyUser._meta
    assert (meta.db_table, meta.managed) == ("user", False)
    assert [field.column for field in meta.concrete_fields] == ["id", "name", "email", "created_at"]
    assert meta.get_field("name").max_length == 100
    assert (meta.get_field("email").max_length, meta.get_field("email").unique) == (254, True)
    assert meta.get_field("created_at").null


def test_it_reads_back_the_rows_inserted_by_sql(scratch_url, tmp_path):
    script = (
        "import json; from monitor.models import LegacyUser; "
        "print(json.dumps(list(LegacyUser.objects.order_by('id').values_list('name', 'email'))))"
    )
    result = _manage(tmp_path, scratch_url, "shell", "-c", script)

    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    assert rows == [["Alice", "alice@example.com"], ["Bob", "bob@example.com"]]


def test_it_loads_the_sql_file_twice_without_error_or_duplicates(scratch_db, mysql_url):
    _load_legacy_sql(mysql_url, scratch_db)

    connection = _connect(mysql_url, database=scratch_db)
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT COUNT(*), COUNT(DISTINCT email) FROM `user`")
        assert cursor.fetchone() == (2, 2)
    finally:
        connection.close()


def test_it_shows_the_legacy_table_in_the_admin_where_it_exists(scratch_url, tmp_path):
    # has_module_permission looks at the tables of the live database, so it is
    # asked in a child process whose default database holds the table.
    script = (
        "from django.contrib import admin; from django.contrib.auth.models import User; "
        "from django.test import RequestFactory; from monitor.models import LegacyUser; "
        "request = RequestFactory().get('/admin/'); "
        "request.user = User(is_active=True, is_staff=True, is_superuser=True); "
        "print(admin.site._registry[LegacyUser].has_module_permission(request))"
    )
    result = _manage(tmp_path, scratch_url, "shell", "-c", script)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_it_registers_the_legacy_model_in_the_admin_as_the_notes_show():
    from django.contrib import admin

    model_admin = admin.site._registry[LegacyUser]
    assert isinstance(model_admin, LegacyUserAdmin)
    assert model_admin.list_display == ("id", "name", "email")
