"""Hosts that push: agents that send samples with a `host` through the API are listed in
/monitor/hosts/ like the hosts workers collect, go stale when they stop, and say so.
"""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from monitor.collection.collectors import Sample
from monitor.storage.inserts import resource_bulk_create

pytestmark = pytest.mark.django_db

URL = "/monitor/resources/"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def hosts(client) -> dict[str, dict]:
    answer = client.get("/monitor/hosts/")
    assert answer.status_code == 200
    return {host["name"]: host for host in answer.json()}


def test_an_agent_that_posts_one_sample_is_listed_as_a_fresh_pushing_host(client):
    sent = timezone.now() - timedelta(seconds=3)
    answer = client.post(
        URL, {"name": "load.1m", "value": 0.4, "host": "agent-1", "timestamp": iso(sent)}, "application/json"
    )
    assert answer.status_code == 201
    agent = hosts(client)["agent-1"]
    assert (agent["stale"], agent["source"]) == (False, "push")
    assert agent["first_seen"] == agent["last_seen"] == iso(sent)
    assert 3 <= agent["seconds_since_last_seen"] < 60


def test_a_bulk_post_lists_each_of_its_hosts_seen_at_its_newest_sample(client):
    now = timezone.now().replace(microsecond=0)
    batch = [
        {"name": "load.1m", "value": 1.0, "host": "agent-2", "timestamp": iso(now - timedelta(seconds=9))},
        {"name": "load.1m", "value": 2.0, "host": "agent-2", "timestamp": iso(now - timedelta(seconds=4))},
        {"name": "load.1m", "value": 3.0, "host": "agent-3", "timestamp": iso(now - timedelta(seconds=6))},
        {"name": "load.1m", "value": 4.0, "timestamp": iso(now)},  # no host: no row
    ]
    assert client.post(URL, batch, "application/json").status_code == 201
    listed = hosts(client)
    assert set(listed) == {"agent-2", "agent-3"}
    assert listed["agent-2"]["first_seen"] == listed["agent-2"]["last_seen"] == iso(now - timedelta(seconds=4))
    assert listed["agent-3"]["last_seen"] == iso(now - timedelta(seconds=6))


def test_a_pushing_host_goes_stale_when_it_stops_and_fresh_when_it_sends_again(client, settings):
    settings.HOST_STALE_AFTER = 1
    client.post(URL, {"name": "load.1m", "value": 1.0, "host": "agent-4"}, "application/json")
    assert hosts(client)["agent-4"]["stale"] is False
    time.sleep(1.5)
    assert hosts(client)["agent-4"]["stale"] is True
    client.post(URL, {"name": "load.1m", "value": 2.0, "host": "agent-4"}, "application/json")
    assert hosts(client)["agent-4"]["stale"] is False


def test_backfilled_samples_do_not_move_last_seen_back(client):
    client.post(URL, {"name": "load.1m", "value": 1.0, "host": "agent-5"}, "application/json")
    before = hosts(client)["agent-5"]["last_seen"]
    old = iso(timezone.now() - timedelta(hours=2))
    client.post(URL, [{"name": "load.1m", "value": 9.0, "host": "agent-5", "timestamp": old}], "application/json")
    assert hosts(client)["agent-5"]["last_seen"] == before


def test_a_host_whose_clock_runs_ahead_is_seen_when_its_samples_arrive_not_later(client, settings):
    settings.HOST_STALE_AFTER = 1
    ahead = timezone.now() + timedelta(hours=1)
    before = timezone.now()
    client.post(URL, {"name": "load.1m", "value": 1.0, "host": "agent-6", "timestamp": iso(ahead)}, "application/json")
    agent = hosts(client)["agent-6"]
    assert before <= datetime.fromisoformat(agent["last_seen"]) <= timezone.now()
    time.sleep(1.5)
    assert hosts(client)["agent-6"]["stale"] is True  # it stopped: stale after HOST_STALE_AFTER, not in an hour


def test_a_refused_batch_lists_no_host(client):
    stored = {"name": "load.1m", "value": 1.0, "host": "agent-7", "timestamp": "2026-11-25T10:00:00Z"}
    client.post(URL, stored, "application/json")
    clash = [{**stored, "host": "agent-8"}, {**stored, "value": 2.0}]
    assert client.post(URL, clash, "application/json").status_code == 409
    invalid = [{"name": "load.1m", "value": 1.0, "host": "agent-9"}, {"name": "load.1m", "value": "x"}]
    assert client.post(URL, invalid, "application/json").status_code == 400
    assert set(hosts(client)) == {"agent-7"}


def test_hosts_a_worker_collects_say_worker_the_others_push(client):
    resource_bulk_create([Sample("load.1m", 1.0)], host="web-1", counters={("host", "web-1"): {"ctxt": [1.0, 0.0]}})
    client.post(URL, {"name": "load.1m", "value": 1.0, "host": "agent-10"}, "application/json")
    client.post(URL, {"name": "app.requests", "value": 5.0, "host": "web-1"}, "application/json")
    listed = hosts(client)
    assert (listed["web-1"]["source"], listed["agent-10"]["source"]) == ("worker", "push")
