"""/monitor/hosts/: every host that reported, its last sample time, a stale flag."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.collection.collectors import Sample
from monitor.models import Host
from monitor.storage.inserts import resource_bulk_create

pytestmark = pytest.mark.django_db


def test_each_collection_cycle_marks_its_host_seen_keeping_first_seen():
    first = timezone.now() - timedelta(minutes=5)
    resource_bulk_create([Sample("load.1m", 1.0)], host="web-1", timestamp=first)
    later = timezone.now()
    resource_bulk_create([Sample("load.1m", 2.0)], host="web-1", timestamp=later)
    host = Host.objects.get()
    assert (host.name, host.first_seen, host.last_seen) == ("web-1", first, later)


def test_it_lists_hosts_with_a_stale_flag(client, settings):
    settings.HOST_STALE_AFTER = 30
    resource_bulk_create([Sample("load.1m", 1.0)], host="fresh", timestamp=timezone.now())
    resource_bulk_create([Sample("load.1m", 1.0)], host="gone", timestamp=timezone.now() - timedelta(minutes=2))
    body = client.get("/monitor/hosts/").json()
    assert [(h["name"], h["stale"]) for h in body] == [("fresh", False), ("gone", True)]
    assert body[1]["seconds_since_last_seen"] >= 120
