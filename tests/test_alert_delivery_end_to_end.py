"""From stored samples to a real receiver: evaluation (core's evaluate) then plan and send, on a simulated clock.

Every 10 simulated seconds the host reports (or not) through the real write
path, then the three beat tasks' functions run in order: evaluate, plan, send.
The receiver is a real HTTP server taking Alertmanager's webhook JSON.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from alert_receivers import http_receiver, shipped_rule
from monitor.alerts.evaluation import evaluate
from monitor.alerts.grouping import plan
from monitor.alerts.models import AlertEvent, AlertRule, Channel, Silence
from monitor.alerts.outbox import send_due
from samples import point, store_many

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("without_shipped_rules")]


# In the past, so every sample is stored with a time the catalog accepts as already seen.
# On a minute boundary: the lookups read minute rollups, so the outcome does not depend on when the test runs.
T0 = (timezone.now() - timedelta(hours=3)).replace(second=0, microsecond=0)
STEP = 10


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def simulate(seconds: int, samples) -> None:
    """Run the pipeline every STEP seconds; `samples(t)` gives the (metric, value) pairs db-1 reports at t."""
    for t in range(0, seconds, STEP):
        reported = samples(t)
        if reported:
            store_many(point(name, value, "db-1", at(t)) for name, value in reported)
        evaluate(at(t))
        plan(at(t))
        send_due(at(t))


@pytest.fixture
def receiver():
    with http_receiver() as receiver:
        Channel.objects.create(name="ops", kind="webhook", target=receiver.url, group_wait=30, group_interval=120)
        yield receiver


def statuses(receiver) -> list[tuple[str, str, list[str]]]:
    return [
        (m["groupLabels"]["alertname"], m["status"], [a["labels"]["severity"] for a in m["alerts"]])
        for m in (r.json() for r in receiver.received)
    ]


def test_a_host_that_stops_and_comes_back_sends_firing_then_resolved(receiver):
    shipped_rule("host_not_reporting")
    AlertRule.objects.create(
        name="cpu_busy", metric="cpu.percent", lookup="last", window=60, warning=90, nodata="alert"
    )

    def host(t):
        return [] if 300 <= t < 900 else [("cpu.count", 4), ("cpu.percent", 20)]

    simulate(1500, host)
    assert statuses(receiver) == [
        ("host_not_reporting", "firing", ["critical"]),
        ("host_not_reporting", "resolved", ["critical"]),
    ], "cpu_busy went nodata too, but the host being down said it all"
    assert AlertEvent.objects.filter(rule_name="cpu_busy", to_state="nodata").exists()
    firing = receiver.received[0].json()["alerts"][0]
    assert firing["annotations"]["summary"] == "db-1 has not reported for over 60 s"


def test_a_disk_that_fills_and_empties_sends_warning_critical_and_resolved(receiver):
    shipped_rule("disk_nearly_full")  # 5-minute average, 85/80 and 95/90, for 120 s

    def disk(t):
        # 50% rising 1 point each 10 s to 98%, held, then emptied to 40%
        value = 40 if t >= 1200 else min(50 + t / STEP, 98)
        return [("disk.used_percent:/data", value)]

    simulate(1900, disk)
    # Warning, then critical once the 5-minute average passes 95 (unless both came within group_wait),
    # warning again as the average falls through 90, resolved below 80.
    sent = statuses(receiver)
    assert sent[0][:2] == ("disk_nearly_full", "firing")
    assert ("disk_nearly_full", "firing", ["critical"]) in sent
    assert sent[-2:] == [("disk_nearly_full", "firing", ["warning"]), ("disk_nearly_full", "resolved", ["warning"])]
    assert len(sent) <= 4
    resolved = receiver.received[-1].json()["alerts"][0]
    assert resolved["labels"]["mount"] == "/data"


def flapping(t):
    return [("load.1m", 12 if (t // STEP) % 2 == 0 and t < 600 else 1)]  # over and under every 10 s for 10 min


def test_a_flapping_metric_with_keep_firing_for_sends_one_firing_message_not_dozens(receiver):
    AlertRule.objects.create(
        name="load_high", metric="load.1m", lookup="last", window=60, warning=8, keep_firing_for=60
    )
    simulate(900, flapping)
    assert statuses(receiver) == [("load_high", "firing", ["warning"]), ("load_high", "resolved", ["warning"])]


def test_without_keep_firing_for_a_flapping_metric_sends_at_most_two_messages_per_group_interval(receiver):
    AlertRule.objects.create(name="load_high", metric="load.1m", lookup="last", window=60, warning=8)
    simulate(900, flapping)
    flips = AlertEvent.objects.filter(rule_name="load_high").count()
    assert flips >= 50
    assert statuses(receiver)[0] == ("load_high", "firing", ["warning"])
    # 600 s of flapping with group_interval=120: a firing and a resolved message per interval at most
    assert len(receiver.received) <= 2 * 600 / 120, f"{flips} state changes, {len(receiver.received)} messages"


def messages(receiver) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(group's alertname, status, [(alert's alertname or mount, alert status)]) of each message received."""
    return [
        (
            m["groupLabels"]["alertname"],
            m["status"],
            [(a["labels"].get("mount") or a["labels"]["alertname"], a["status"]) for a in m["alerts"]],
        )
        for m in (r.json() for r in receiver.received)
    ]


def test_an_alert_that_clears_while_silenced_sends_no_resolved_message(receiver):
    AlertRule.objects.create(name="disk_full", metric="disk.used_percent", lookup="last", window=60, warning=90)

    def disks(t):
        root = 95 if t < 600 else 10  # fires at once, announced after group_wait; clears under the silence
        data = 95 if 300 <= t < 500 else 10  # fires and clears under the silence: never heard of
        return [("disk.used_percent:/", root), ("disk.used_percent:/data", data)]

    for t in range(0, 1400, STEP):
        if t == 200:
            Silence.objects.create(
                matchers=[{"name": "alertname", "value": "disk_full", "regex": False}],
                starts_at=at(t),
                ends_at=at(1000),
                created_by="ops",
                comment="disk swap",
            )
        store_many(point(name, value, "db-1", at(t)) for name, value in disks(t))
        evaluate(at(t))
        plan(at(t))
        send_due(at(t))
    assert AlertEvent.objects.filter(to_state="ok").count() == 2, "both alerts cleared while silenced"
    assert messages(receiver) == [("disk_full", "firing", [("/", "firing")])], "nothing after the silence either"


def test_an_alert_that_clears_while_its_host_inhibits_it_sends_no_resolved_message(receiver):
    shipped_rule("host_not_reporting")
    AlertRule.objects.create(name="cpu_busy", metric="cpu.percent", lookup="last", window=60, warning=90)

    def host(t):
        # busy and announced; down from 300 (cpu_busy keeps firing, inhibited); back at 900, calm: both
        # clear in the same evaluation, the inhibition with them
        if 300 <= t < 900:
            return []
        return [("cpu.count", 4), ("cpu.percent", 99 if t < 300 else 20)]

    simulate(1500, host)
    sent = messages(receiver)
    assert ("cpu_busy", "firing", [("cpu_busy", "firing")]) in sent
    assert [m for m in sent if m[0] == "cpu_busy"] == [("cpu_busy", "firing", [("cpu_busy", "firing")])]
    assert [m[1] for m in sent if m[0] == "host_not_reporting"] == ["firing", "resolved"]


def test_an_alert_still_firing_when_its_silence_ends_sends_its_resolved_message(receiver):
    AlertRule.objects.create(name="disk_full", metric="disk.used_percent", lookup="last", window=60, warning=90)
    Silence.objects.create(
        matchers=[{"name": "alertname", "value": "disk_full", "regex": False}],
        starts_at=at(200),
        ends_at=at(400),
        created_by="ops",
        comment="disk swap",
    )
    simulate(1200, lambda t: [("disk.used_percent:/", 95 if t < 600 else 10)])
    assert messages(receiver) == [
        ("disk_full", "firing", [("/", "firing")]),
        ("disk_full", "resolved", [("/", "resolved")]),
    ], "the silence ended before it resolved: the muted mark went with it"


def test_renaming_a_firing_rule_does_not_announce_it_again(receiver, client):
    AlertRule.objects.create(name="cpu_busy", metric="cpu.percent", lookup="last", window=60, warning=90)
    for t in range(0, 1200, STEP):
        if t == 200:  # announced at 30; renamed through the API while it fires
            renamed = client.patch(
                "/monitor/alerts/rules/cpu_busy/", {"name": "cpu_hot"}, content_type="application/json"
            )
            assert renamed.status_code == 200, renamed.json()
        store_many([point("cpu.percent", 99 if t < 700 else 20, "db-1", at(t))])
        evaluate(at(t))
        plan(at(t))
        send_due(at(t))
    sent = [r.json() for r in receiver.received]
    assert [(m["groupLabels"]["alertname"], m["status"]) for m in sent] == [
        ("cpu_busy", "firing"),
        ("cpu_busy", "resolved"),
    ], "one group from first firing to resolved, under the name it was announced with"
    assert len({a["fingerprint"] for m in sent for a in m["alerts"]}) == 1
    assert AlertEvent.objects.filter(to_state="ok").count() == 1


def test_a_renamed_rule_reaches_alertmanager_under_its_new_name_and_ends_the_old_one(client):
    AlertRule.objects.create(name="cpu_busy", metric="cpu.percent", lookup="last", window=60, warning=90)
    with http_receiver() as alertmanager:
        Channel.objects.create(
            name="am",
            kind="alertmanager",
            target=alertmanager.url,
            group_wait=0,
            group_interval=60,
            repeat_interval=600,
        )
        for t in range(0, 300, STEP):
            if t == 100:
                client.patch("/monitor/alerts/rules/cpu_busy/", {"name": "cpu_hot"}, content_type="application/json")
            store_many([point("cpu.percent", 99, "db-1", at(t))])
            evaluate(at(t))
            plan(at(t))
            send_due(at(t))
        posted = [r.json() for r in alertmanager.received]
    ends = {a["labels"]["alertname"]: a["endsAt"] for alerts in posted[1:] for a in alerts}
    assert [a["labels"]["alertname"] for a in posted[0]] == ["cpu_busy"]
    assert "cpu_hot" in ends, "the new label set is pushed at once (group_interval), not at the next repeat"
    assert ends["cpu_busy"] < ends["cpu_hot"], "the old label set ended there at once, the new one fires"
