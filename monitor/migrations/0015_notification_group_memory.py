from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("monitor", "0014_default_rules")]

    operations = [
        migrations.AddField(
            model_name="notificationgroup",
            name="last_alerts",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="notificationgroup",
            name="sequence",
            field=models.PositiveIntegerField(
                default=0, help_text="messages written for this group; part of dedup_key"
            ),
        ),
    ]
