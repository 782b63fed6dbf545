"""A real worker and beat (embedded filesystem broker) take an alert from the host's own samples to a receiver.

The whole chain runs in processes of its own: beat sends collect, evaluate,
plan and send on their schedule; the worker collects this machine, the rule
fires on its cpu.count, the planner queues a message and the sender delivers
it to a real HTTP receiver in the test process.
"""

import pytest

from alert_receivers import http_receiver, only_our_rules
from monitor.alerts.models import AlertRule, Channel, Notification
from procs import beat_args, child_env, running, wait_for, worker_args

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

HOST = "notify-e2e-host"


def test_worker_and_beat_deliver_an_alert_on_the_hosts_own_samples(tmp_path):
    only_our_rules()
    AlertRule.objects.create(
        name="has_cpus", metric="cpu.count", host_pattern=HOST, lookup="last", window=60, warning=0, summary="{value}"
    )
    env = child_env(
        tmp_path,
        CELERY_BROKER_URL="filesystem://",
        # One pool process: server status (the queue probe takes about a second) only now and then,
        # so the alert tasks are not queued behind it until they expire.
        METRICS_INTERVAL="1",
        SERVER_METRICS_INTERVAL="60",
        ALERTS_EVALUATION_INTERVAL="2",
        ALERTS_NOTIFY_INTERVAL="2",
        MONITOR_HOSTNAME=HOST,
        MONITOR_MYSQL_URLS="",
        MONITOR_REDIS_URLS="",
    )
    log = tmp_path / "worker.log"
    with http_receiver() as receiver:
        Channel.objects.create(name="ops", kind="webhook", target=receiver.url, group_wait=0)
        with running(worker_args("notify@testhost"), env, log), running(beat_args(tmp_path), env, tmp_path / "b.log"):
            wait_for(lambda: receiver.received, 90, "the firing message at the receiver", log)
    message = receiver.received[0].json()
    assert message["status"] == "firing"
    assert message["groupLabels"] == {"alertname": "has_cpus", "host": HOST}
    assert Notification.objects.get().status == "sent"
    text = log.read_text(errors="replace")
    assert "plan_notifications" in text and "send_notifications" in text
