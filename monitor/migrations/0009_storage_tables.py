"""The storage engine's tables: series catalog, narrow samples, rollup tiers with the latest values.

On MySQL/MariaDB the sample table is compressed (InnoDB ROW_FORMAT=COMPRESSED:
25.8 bytes per sample instead of 44.8, measured at 10M samples): its rows are
only ever appended. The rollup table is not: every write updates its rows in
place, and rewriting compressed pages made each write cost more as the table
grew (bench/remote_write.py: server CPU per 20k samples 1.5 -> 10.2 s over
four rounds compressed, flat uncompressed). Both are partitioned by time from
the oldest sample the old table holds, so retention drops whole partitions
(monitor/storage/partitions.py); names compare byte for byte, as migration
0005 made them on the old table.
"""

from datetime import UTC, datetime

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

COMPRESSED = "ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8"
BINARY_COLUMNS = [
    ("name", "VARCHAR(1000) NOT NULL"),
    ("metric", "VARCHAR(255) NOT NULL"),
    ("host", "VARCHAR(255) NOT NULL"),
]


def _binary_collation(cursor) -> str:
    for candidate in ("utf8mb4_nopad_bin", "utf8mb4_0900_bin"):
        cursor.execute("SHOW COLLATION WHERE Collation = %s", [candidate])
        if cursor.fetchone():
            return candidate
    return "utf8mb4_bin"


def tune_for_mysql(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "mysql":
        return
    from monitor.storage import partitions

    with connection.cursor() as cursor:
        collation = _binary_collation(cursor)
        for column, definition in BINARY_COLUMNS:
            cursor.execute(f"ALTER TABLE `monitor_series` MODIFY `{column}` {definition} COLLATE {collation}")
        cursor.execute("SELECT MIN(`timestamp`) FROM `monitor_resource`")
        oldest = cursor.fetchone()[0]
        cursor.execute(f"ALTER TABLE `monitor_sample` {COMPRESSED}")
    now = datetime.now(UTC)
    since = oldest.replace(tzinfo=UTC) if oldest is not None else now
    partitions.partition_tables(min(since, now), now)


class Migration(migrations.Migration):
    dependencies = [("monitor", "0008_counter_state")]

    operations = [
        migrations.CreateModel(
            name="Series",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("key", models.CharField(editable=False, max_length=40, unique=True)),
                ("name", models.CharField(max_length=1000)),
                ("metric", models.CharField(max_length=255)),
                ("host", models.CharField(blank=True, default="", max_length=255)),
                ("labels", models.JSONField(blank=True, default=dict)),
                ("description", models.TextField(blank=True, default="")),
                ("unit", models.CharField(blank=True, default="", max_length=32)),
                ("first_seen", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "verbose_name_plural": "series",
                "indexes": [
                    models.Index(fields=["host", "metric"], name="series_host_metric"),
                    models.Index(fields=["metric"], name="series_metric"),
                ],
            },
        ),
        migrations.CreateModel(
            name="Sample",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "series_id", "ts", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                (
                    "series",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="monitor.series",
                    ),
                ),
                ("ts", models.BigIntegerField(help_text="microseconds since 1970-01-01 UTC")),
                ("value", models.FloatField()),
            ],
        ),
        migrations.CreateModel(
            name="Rollup",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "series_id", "step", "bucket", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                (
                    "series",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="monitor.series",
                    ),
                ),
                (
                    "step",
                    models.PositiveSmallIntegerField(help_text="bucket length in seconds; 0: the latest value"),
                ),
                ("bucket", models.BigIntegerField(help_text="start of the bucket, seconds since 1970-01-01 UTC")),
                ("count", models.PositiveIntegerField()),
                ("sum", models.FloatField()),
                ("min", models.FloatField()),
                ("max", models.FloatField()),
                ("last", models.FloatField()),
                ("last_ts", models.BigIntegerField(help_text="microseconds since 1970-01-01 UTC of `last`")),
            ],
        ),
        migrations.RunPython(tune_for_mysql, migrations.RunPython.noop),
    ]
