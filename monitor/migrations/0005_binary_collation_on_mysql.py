"""Metric and host names compare byte for byte on MySQL/MariaDB, as on SQLite.

The database default (utf8mb4_unicode_ci) folds case and ignores trailing
spaces, so `CPU.percent`, `cpu.percent` and `cpu.percent ` would be one series
to latest/series/filters on MySQL and three on SQLite. A no-pad binary
collation keeps them apart; indexes are rebuilt by the ALTER. Other backends
are left alone (their default comparison is already binary).
"""

from django.db import migrations

COLUMNS = [
    ("monitor_resource", "name", "VARCHAR(200) NOT NULL"),
    ("monitor_resource", "host", "VARCHAR(255) NOT NULL"),
    ("monitor_host", "name", "VARCHAR(255) NOT NULL"),
]


def _binary_collation(cursor) -> str:
    # MariaDB: utf8mb4_nopad_bin; MySQL 8: utf8mb4_0900_bin; both NO PAD.
    for candidate in ("utf8mb4_nopad_bin", "utf8mb4_0900_bin"):
        cursor.execute("SHOW COLLATION WHERE Collation = %s", [candidate])
        if cursor.fetchone():
            return candidate
    return "utf8mb4_bin"


def to_binary(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "mysql":
        return
    with connection.cursor() as cursor:
        collation = _binary_collation(cursor)
        for table, column, definition in COLUMNS:
            cursor.execute(f"ALTER TABLE `{table}` MODIFY `{column}` {definition} COLLATE {collation}")


def to_default(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "mysql":
        return
    with connection.cursor() as cursor:
        for table, column, definition in COLUMNS:
            cursor.execute(f"ALTER TABLE `{table}` MODIFY `{column}` {definition} COLLATE utf8mb4_unicode_ci")


class Migration(migrations.Migration):
    dependencies = [("monitor", "0004_api_tokens_and_cycles")]

    operations = [migrations.RunPython(to_binary, to_default)]
