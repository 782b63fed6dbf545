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


def create_view(apps, schema_editor) -> None:
    sql = MYSQL_VIEW if schema_editor.connection.vendor == "mysql" else SQLITE_VIEW
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)
        cursor.execute("DROP TABLE IF EXISTS monitor_storagecopy")


def drop_view(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP VIEW IF EXISTS monitor_resource")


class Migration(migrations.Migration):
    dependencies = [("monitor", "0010_storage_copy")]

    operations = [
        migrations.DeleteModel(name="Resource"),
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
