"""The fold watermark (monitor/storage/folding.py): its one row starts NULL, so writes keep folding inline
until the folder's first run moves the watermark past everything already stored."""

from django.db import migrations, models


def create_row(apps, schema_editor):
    apps.get_model("monitor", "FoldWatermark").objects.using(schema_editor.connection.alias).get_or_create(
        id=1, defaults={"until_us": None}
    )


class Migration(migrations.Migration):
    dependencies = [("monitor", "0016_notification_group_rule_key")]

    operations = [
        migrations.CreateModel(
            name="FoldWatermark",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                (
                    "until_us",
                    models.BigIntegerField(
                        help_text="microseconds since 1970-01-01 UTC; NULL: folded inline", null=True
                    ),
                ),
            ],
        ),
        migrations.RunPython(create_row, migrations.RunPython.noop),
    ]
