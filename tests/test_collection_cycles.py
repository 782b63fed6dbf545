"""A collection cycle is stored once per task and host, however often it is delivered."""

import pytest

from monitor.collection.collectors import Sample
from monitor.models import CollectionCycle, Host, Resource
from monitor.storage.inserts import resource_bulk_create

pytestmark = pytest.mark.django_db


def test_a_redelivered_task_stores_its_cycle_only_once():
    samples = [Sample("load.1m", 1.0), Sample("load.5m", 2.0)]
    assert resource_bulk_create(samples, host="h1", cycle_id="task-1") == 2
    assert resource_bulk_create(samples, host="h1", cycle_id="task-1") == 0
    assert Resource.objects.count() == 2
    assert CollectionCycle.objects.get().rows == 2


def test_a_broadcast_task_stores_one_cycle_per_host():
    samples = [Sample("load.1m", 1.0)]
    resource_bulk_create(samples, host="h1", cycle_id="task-2")
    resource_bulk_create(samples, host="h2", cycle_id="task-2")
    assert sorted(Resource.objects.values_list("host", flat=True)) == ["h1", "h2"]
    assert set(Host.objects.values_list("name", flat=True)) == {"h1", "h2"}
