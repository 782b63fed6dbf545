"""The planner's timing (Alertmanager's group_wait, group_interval, repeat_interval) on real rows, simulated clock.

Each run is `plan(now)`; what it decided is in the outbox (Notification rows,
payloads in Alertmanager's webhook format for a webhook channel).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from alert_receivers import alert, fire, resolve, rule
from monitor.alerts.grouping import group_key, plan
from monitor.alerts.models import AlertState, Channel, Notification, NotificationGroup, Silence

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("without_shipped_rules")]


T0 = timezone.now().replace(microsecond=0)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def messages() -> list[dict]:
    return [n.payload for n in Notification.objects.order_by("id")]


def run(start: float, end: float, step: float = 10) -> None:
    t = start
    while t <= end:
        plan(at(t))
        t += step


@pytest.fixture
def channel() -> Channel:
    return Channel.objects.create(
        name="ops",
        kind="webhook",
        target="http://127.0.0.1:9/",
        group_wait=30,
        group_interval=300,
        repeat_interval=3600,
    )


@pytest.fixture
def disk():
    return rule("disk_nearly_full", metric="disk.used_percent")


def test_a_new_group_waits_group_wait_and_sends_its_alerts_together(channel, disk):
    root, var = alert(disk, "db-1", "disk.used_percent:/", mount="/"), alert(disk, "db-1", "disk.used_percent:/var")
    fire(root, at(0))
    run(0, 20)
    fire(var, at(25))
    assert plan(at(29)) == 0
    assert plan(at(30)) == 1
    [message] = messages()
    assert message["status"] == "firing"
    assert message["groupLabels"] == {"alertname": "disk_nearly_full", "host": "db-1"}
    assert {a["labels"]["metric"] for a in message["alerts"]} == {"disk.used_percent"}
    assert len(message["alerts"]) == 2


def test_a_change_waits_group_interval_and_an_unchanged_group_repeats(channel, disk):
    root, var = alert(disk, "db-1", "disk.used_percent:/"), alert(disk, "db-1", "disk.used_percent:/var")
    fire(root, at(0))
    run(0, 30)
    fire(var, at(40))
    run(40, 320)
    assert len(messages()) == 1, "the new alert waits for group_interval after the first message"
    plan(at(330))
    assert len(messages()) == 2 and len(messages()[1]["alerts"]) == 2
    run(340, 330 + 3590)
    assert len(messages()) == 2
    plan(at(330 + 3600))
    assert len(messages()) == 3, "repeat_interval"
    assert messages()[2]["alerts"] == messages()[1]["alerts"]


def test_all_resolved_sends_one_resolved_message_then_forgets(channel, disk):
    root = alert(disk, "db-1", "disk.used_percent:/")
    fire(root, at(0), value=97.0)
    run(0, 30)
    resolve(root, at(100), value=41.0)
    run(100, 1000)
    first, resolved = messages()
    assert first["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert resolved["status"] == "resolved"
    [item] = resolved["alerts"]
    assert item["status"] == "resolved" and item["labels"]["severity"] == "warning"
    assert item["startsAt"] == first["alerts"][0]["startsAt"]
    assert item["endsAt"].startswith(at(100).strftime("%Y-%m-%dT%H:%M:%S"))
    assert not NotificationGroup.objects.exists()


def test_a_partly_resolved_group_shows_the_resolved_alert_beside_the_firing_one(channel, disk):
    root, var = alert(disk, "db-1", "disk.used_percent:/"), alert(disk, "db-1", "disk.used_percent:/var")
    fire(root, at(0))
    fire(var, at(0))
    run(0, 30)
    resolve(var, at(60))
    run(60, 330)
    second = messages()[1]
    assert second["status"] == "firing"
    assert sorted(a["status"] for a in second["alerts"]) == ["firing", "resolved"]


def test_a_flapping_metric_sends_one_firing_message_not_dozens(channel, disk):
    root = alert(disk, "db-1", "disk.used_percent:/")
    flaps = 0
    t = 0.0
    while t < 280:  # 7 s firing, 4 s ok, for almost five minutes: 50 changes of state
        fire(root, at(t), value=91.0)
        plan(at(t))
        t += 7
        resolve(root, at(t), value=79.0)
        plan(at(t))
        t += 4
        flaps += 2
    assert flaps >= 50
    assert len(messages()) == 1 and messages()[0]["status"] == "firing"
    run(290, 700)
    assert [m["status"] for m in messages()] == ["firing", "resolved"]


def test_a_group_resolved_before_its_wait_ends_sends_nothing(channel, disk):
    root = alert(disk, "db-1", "disk.used_percent:/")
    fire(root, at(0))
    plan(at(0))
    resolve(root, at(10))
    run(10, 320)
    assert messages() == [] and NotificationGroup.objects.exists(), "kept one group_interval past its wait"
    plan(at(330))
    assert not NotificationGroup.objects.exists()


def test_an_alert_flapping_in_step_with_the_runs_is_still_heard(channel, disk):
    root = alert(disk, "db-1", "disk.used_percent:/")
    for t in range(0, 200, 10):  # firing at every run whose time is 0 mod 20, ok at the others
        if t % 20 == 0:
            fire(root, at(t))
        else:
            resolve(root, at(t))
        plan(at(t))
    assert [m["status"] for m in messages()] == ["firing"]


def test_an_alert_that_turns_critical_is_news_after_group_interval(channel, disk):
    root = alert(disk, "db-1", "disk.used_percent:/")
    fire(root, at(0), AlertState.WARNING, 88.0)
    run(0, 30)
    fire(root, at(60), AlertState.CRITICAL, 97.0)
    run(60, 320)
    assert len(messages()) == 1
    plan(at(330))
    assert [m["alerts"][0]["labels"]["severity"] for m in messages()] == ["warning", "critical"]


def test_send_resolved_off_sends_no_resolved_message(channel, disk):
    channel.send_resolved = False
    channel.save()
    root = alert(disk, "db-1", "disk.used_percent:/")
    fire(root, at(0))
    run(0, 30)
    resolve(root, at(40))
    run(40, 1000)
    assert [m["status"] for m in messages()] == ["firing"]


def test_send_resolved_off_says_nothing_when_one_of_several_firing_alerts_resolves(channel, disk):
    channel.send_resolved = False
    channel.save()
    root = alert(disk, "db-1", "disk.used_percent:/", mount="/")
    data = alert(disk, "db-1", "disk.used_percent:/data", mount="/data")
    fire(root, at(0))
    fire(data, at(0))
    run(0, 30)
    resolve(data, at(40))
    run(40, 1000)  # within repeat_interval
    assert [len(m["alerts"]) for m in messages()] == [2]
    fire(data, at(1010))  # fires again: news
    run(1010, 1400)
    assert [len(m["alerts"]) for m in messages()] == [2, 2]


def test_severity_and_channel_matchers_choose_what_a_channel_gets(channel, disk):
    pager = Channel.objects.create(
        name="pager",
        kind="webhook",
        target="http://127.0.0.1:9/",
        min_severity="critical",
        matchers=[{"name": "host", "value": "db-.*", "regex": True}],
        group_wait=0,
    )
    warm = alert(disk, "db-1", "disk.used_percent:/")
    web = alert(disk, "web-1", "disk.used_percent:/")
    fire(warm, at(0), AlertState.WARNING)
    fire(web, at(0), AlertState.CRITICAL)
    plan(at(0))
    assert not Notification.objects.filter(channel=pager).exists()
    fire(warm, at(10), AlertState.CRITICAL, value=99.0)
    plan(at(10))
    [paged] = Notification.objects.filter(channel=pager)
    assert [a["labels"]["host"] for a in paged.payload["alerts"]] == ["db-1"]


def test_silenced_and_inhibited_alerts_send_nothing(channel, disk):
    silenced = alert(disk, "db-2", "disk.used_percent:/")
    inhibited = alert(disk, "db-1", "disk.used_percent:/")
    down = alert(rule("host_not_reporting", metric="host.seen", inhibits_host=True), "db-1")
    Silence.objects.create(
        matchers=[{"name": "host", "value": "db-2", "regex": False}],
        starts_at=at(-1),
        ends_at=at(3600),
        created_by="ops",
        comment="maintenance",
    )
    fire(silenced, at(0))
    fire(inhibited, at(0), AlertState.NODATA, None)
    fire(down, at(0), AlertState.CRITICAL, None)
    run(0, 600)
    assert [m["groupLabels"] for m in messages()] == [{"alertname": "host_not_reporting", "host": "db-1"}]


def test_a_silence_over_an_alert_already_announced_is_not_called_resolved(channel, disk):
    root = alert(disk, "db-1", "disk.used_percent:/")
    fire(root, at(0))
    run(0, 30)
    Silence.objects.create(
        matchers=[{"name": "alertname", "value": "disk_nearly_full", "regex": False}],
        starts_at=at(40),
        ends_at=at(1000),
        created_by="ops",
        comment="known",
    )
    run(40, 1200)
    assert [m["status"] for m in messages()] == ["firing"]


def test_two_runs_at_the_same_moment_queue_a_message_once(channel, disk):
    fire(alert(disk, "db-1", "disk.used_percent:/"), at(0))
    plan(at(0))
    assert plan(at(30)) == 1
    assert plan(at(30)) == 0
    assert Notification.objects.count() == 1
    group = NotificationGroup.objects.get()
    assert group.sequence == 1 and group.last_sent_at == at(30)


def test_a_crash_before_commit_leaves_neither_message_nor_memory(channel, disk, monkeypatch):
    from monitor.alerts import grouping

    fire(alert(disk, "db-1", "disk.used_percent:/"), at(0))
    plan(at(0))

    def crash(*args, **kwargs):
        raise RuntimeError("worker died")

    monkeypatch.setattr(grouping.NotificationGroup, "save", crash)
    assert plan(at(30)) == 0  # logged; the group's transaction rolled back
    assert not Notification.objects.exists()
    assert NotificationGroup.objects.get().last_sent_at is None
    monkeypatch.undo()
    assert plan(at(40)) == 1


def test_a_channel_that_cannot_be_rendered_does_not_silence_the_others(channel, disk):
    Channel.objects.create(name="broken", kind="pigeon", target="x", group_wait=0)
    fire(alert(disk, "db-1", "disk.used_percent:/"), at(0))
    run(0, 30)
    assert [n.channel.name for n in Notification.objects.all()] == ["ops"]


def test_a_critical_only_channel_hears_that_its_alert_dropped_back_to_warning(channel, disk):
    channel.min_severity, channel.group_wait, channel.group_interval = "critical", 0, 0
    channel.save()
    root = alert(disk, "db-1", "disk.used_percent:/")
    now = timezone.now()
    fire(root, now, AlertState.CRITICAL, 97.0)
    assert plan(now) == 1
    fire(root, now + timedelta(seconds=60), AlertState.WARNING, 90.0)
    assert plan(now + timedelta(seconds=60)) == 1
    last = Notification.objects.order_by("-id").first().payload
    assert last["status"] == "resolved" and last["alerts"][0]["labels"]["severity"] == "critical"


def test_the_upgrade_rekeys_groups_by_rule_id_so_a_firing_group_is_not_announced_again(channel, disk):
    from importlib import import_module

    from django.apps import apps

    rekey = import_module("monitor.migrations.0016_notification_group_rule_key")
    fire(alert(disk, "db-1", "disk.used_percent:/"), at(0))
    run(0, 30)
    rekey.backwards(apps, None)  # the group and its outbox row as the version before left them
    by_name = NotificationGroup.objects.get().key
    assert Notification.objects.get().group_key == by_name != group_key(disk.id, "db-1")
    rekey.forwards(apps, None)
    assert NotificationGroup.objects.get().key == group_key(disk.id, "db-1") == Notification.objects.get().group_key
    run(40, 1000)
    assert [m["status"] for m in messages()] == ["firing"], "neither resolved under the old key nor firing again"
