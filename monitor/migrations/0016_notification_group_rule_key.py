"""Notification groups are keyed by rule id and host, not rule name: a renamed rule keeps its group.

Existing groups are rekeyed (and their outbox rows with them, so a message still waits for the one
before it): without this, each group firing at the upgrade would be called resolved under its old key
and announced again under the new one.
"""

import hashlib

from django.db import migrations, models


def _by_name(name: str, host: str) -> str:
    return hashlib.sha1(f"{name}\0{host}".encode()).hexdigest()


def _by_rule(rule_id: int, host: str) -> str:
    # as monitor.alerts.grouping.group_key: "rule:" keeps it apart from a name key (a slug has no colon)
    return hashlib.sha1(f"rule:{rule_id}\0{host}".encode()).hexdigest()


def _rekey(apps, schema_editor, forwards: bool) -> None:
    NotificationGroup = apps.get_model("monitor", "NotificationGroup")
    Notification = apps.get_model("monitor", "Notification")
    ids = dict(apps.get_model("monitor", "AlertRule").objects.values_list("name", "id"))
    for group in NotificationGroup.objects.all():
        if forwards:
            if group.rule_name not in ids:
                continue  # its rule is gone or renamed already: the group ends under the key it has
            key = _by_rule(ids[group.rule_name], group.host)
        elif any(_by_rule(rule_id, group.host) == group.key for rule_id in ids.values()):
            key = _by_name(group.rule_name, group.host)
        else:
            continue
        if key != group.key:
            Notification.objects.filter(channel_id=group.channel_id, group_key=group.key).update(group_key=key)
            NotificationGroup.objects.filter(pk=group.pk).update(key=key)


def forwards(apps, schema_editor) -> None:
    _rekey(apps, schema_editor, forwards=True)


def backwards(apps, schema_editor) -> None:
    _rekey(apps, schema_editor, forwards=False)


class Migration(migrations.Migration):
    dependencies = [("monitor", "0015_notification_group_memory")]

    operations = [
        migrations.AlterField(
            model_name="notificationgroup",
            name="key",
            field=models.CharField(help_text="sha1 of rule id and host (grouping.group_key)", max_length=40),
        ),
        migrations.AlterField(
            model_name="notificationgroup",
            name="rule_name",
            field=models.CharField(
                help_text="the rule's name when the group began: its messages keep it, even after a rename",
                max_length=100,
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
