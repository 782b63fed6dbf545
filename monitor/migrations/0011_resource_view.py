"""The old sample table goes; `monitor_resource` becomes a view of samples joined with their series.

SQL that read the notes' table keeps working (read-only): id is
"<series id>-<microseconds>", timestamp a DATETIME(6) in UTC.
"""

from django.db import migrations, models

MYSQL_VIEW = """
CREATE VIEW monitor_resource AS
SELECT CONCAT(s.series_id, '-', s.ts) AS id, c.name AS name, s.value AS value, c.description AS description,
       TIMESTAMPADD(MICROSECOND, s.ts, TIMESTAMP '1970-01-01 00:00:00') AS timestamp, c.host AS host
FROM monitor_sample s JOIN monitor_series c ON c.id = s.series_id
"""

# SQLite: floor division of signed microseconds into seconds and the microsecond part.
SQLITE_VIEW = """
CREATE VIEW monitor_resource AS
SELECT s.series_id || '-' || s.ts AS id, c.name AS name, s.value AS value, c.description AS description,
       datetime((s.ts - ((s.ts % 1000000) + 1000000) % 1000000) / 1000000, 'unixepoch')
         || '.' || printf('%06d', ((s.ts % 1000000) + 1000000) % 1000000) AS timestamp,
       c.host AS host
FROM monitor_sample s JOIN monitor_series c ON c.id = s.series_id
"""


OLD_TABLE = "monitor_resource_pre_view"  # the old table, kept until the view stands


def _tables(schema_editor) -> dict[str, str]:
    """name -> 't' (table) or 'v' (view)."""
    with schema_editor.connection.cursor() as cursor:
        return {info.name: info.type for info in schema_editor.connection.introspection.get_table_list(cursor)}


def move_old_table_aside(apps, schema_editor) -> None:
    """Rename instead of drop, so a failed CREATE VIEW (e.g. a user without the privilege) can simply be run again:
    MySQL does not roll DDL back, and a dropped table would make the rerun fail."""
    tables = _tables(schema_editor)
    if tables.get("monitor_resource") == "t" and OLD_TABLE not in tables:
        schema_editor.execute(f"ALTER TABLE monitor_resource RENAME TO {OLD_TABLE}")


def create_view(apps, schema_editor) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            try:
                cursor.execute(MYSQL_VIEW.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1))
            except Exception as exc:
                if getattr(exc, "args", (None,))[0] == 1142:  # command denied
                    raise RuntimeError(
                        f"{exc}. The database user needs CREATE VIEW and SHOW VIEW on this database "
                        "(sql/create_database.sql grants them); grant them and run migrate again."
                    ) from exc
                raise
        else:
            cursor.execute("DROP VIEW IF EXISTS monitor_resource")
            cursor.execute(SQLITE_VIEW)
        cursor.execute(f"DROP TABLE IF EXISTS {OLD_TABLE}")
        cursor.execute("DROP TABLE IF EXISTS monitor_storagecopy")


def drop_view(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP VIEW IF EXISTS monitor_resource")


class Migration(migrations.Migration):
    dependencies = [("monitor", "0010_storage_copy")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Resource")],
            database_operations=[migrations.RunPython(move_old_table_aside, migrations.RunPython.noop)],
        ),
        migrations.CreateModel(
            name="Resource",
            fields=[
                ("id", models.CharField(max_length=40, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=1000)),
                ("value", models.FloatField()),
                ("description", models.TextField()),
                ("timestamp", models.DateTimeField()),
                ("host", models.CharField(max_length=255)),
            ],
            options={"db_table": "monitor_resource", "managed": False},
        ),
        migrations.RunPython(create_view, drop_view),
    ]
