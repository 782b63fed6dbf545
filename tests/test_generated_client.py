"""A Python client generated from the live schema by openapi-python-client returns typed objects.

The client is generated in the test from /monitor/schema/ (the generator is pinned in
requirements-dev.txt), imported, and pointed at a production-mode server with a
token: each answer must come back as the schema's model with its attributes typed,
not as a free-form dict (`additional_properties`).
"""

import importlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from live_api import live_api

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

GENERATOR = str(Path(sys.executable).with_name("openapi-python-client"))
PACKAGE = "monitor_api_client"


@pytest.fixture
def generated(tmp_path):
    """Generate and import the client package from a schema file the test writes; unimported afterwards."""

    def make(schema_file: Path):
        bin_dir = str(Path(sys.executable).parent)  # the generator formats its output with ruff from here
        subprocess.run(
            [GENERATOR, "generate", "--path", str(schema_file), "--output-path", str(tmp_path / PACKAGE)]
            + ["--meta", "none"],
            check=True,
            capture_output=True,
            timeout=180,
            env={"PATH": bin_dir, "HOME": str(tmp_path)},
        )
        sys.path.insert(0, str(tmp_path))
        return importlib.import_module(PACKAGE)

    yield make
    sys.path[:] = [p for p in sys.path if p != str(tmp_path)]
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def submodule(package, name: str):
    return importlib.import_module(f"{package.__name__}.{name}")


def test_the_generated_client_returns_typed_objects(tmp_path, generated):
    with live_api(tmp_path) as api:
        api.seed()
        client_package = generated(api.schema(tmp_path / "schema.json"))
        models = submodule(client_package, "models")
        resources = {
            op: submodule(client_package, f"api.resources.resources_{op}")
            for op in ("create", "list", "latest_list", "series_retrieve", "retrieve", "partial_update", "destroy")
        }
        hosts_list = submodule(client_package, "api.hosts.hosts_list")
        health = submodule(client_package, "api.health.health_retrieve")
        application = submodule(client_package, "api.application.application_retrieve")
        client = client_package.AuthenticatedClient(base_url=api.url, token=api.key, timeout=30)

        now = datetime.now(UTC).replace(microsecond=0)
        sample = models.ResourceRequest(
            name="load.1m", value=0.75, host="agent-7", timestamp=now - timedelta(seconds=20)
        )
        created = resources["create"].sync(client=client, body=sample)
        assert isinstance(created, models.Resource), created
        assert (created.name, created.value, created.host, created.timestamp) == (
            "load.1m",
            0.75,
            "agent-7",
            sample.timestamp,
        )
        assert isinstance(created.id, str) and created.additional_properties == {}

        batch = [
            models.ResourceRequest(
                name="load.1m", value=0.5 + i, host="agent-7", timestamp=now - timedelta(seconds=10 - i)
            )
            for i in range(3)
        ]
        bulk = resources["create"].sync(client=client, body=batch)
        assert isinstance(bulk, models.BulkCreated) and bulk.created == 3

        page = resources["list"].sync(client=client, host="agent-7", page_size=2)
        assert isinstance(page, models.ResourcePage)
        assert [type(row) for row in page.results] == [models.Resource, models.Resource]
        assert [row.value for row in page.results] == [2.5, 1.5]  # newest first
        assert isinstance(page.results[0].timestamp, datetime) and isinstance(page.next_, str)

        latest = resources["latest_list"].sync(client=client, host="agent-7")
        assert [(type(row), row.name, row.value) for row in latest] == [(models.Resource, "load.1m", 2.5)]

        series = resources["series_retrieve"].sync(
            client=client,
            name="load.1m",
            host="agent-7",
            since=now - timedelta(minutes=1),
            until=now + timedelta(minutes=1),
            step="1m",
        )
        assert isinstance(series, models.Series)
        assert series.aggregate == models.AggregateEnum.AVG and series.step == 60 and series.host == "agent-7"
        assert all(len(point) == 2 for point in series.points) and sum(p[1] for p in series.points) > 0
        assert isinstance(series.since, datetime)

        hosts = {host.name: host for host in hosts_list.sync(client=client)}
        agent = hosts["agent-7"]
        assert isinstance(agent, models.HostStatus) and agent.additional_properties == {}
        assert agent.source == models.HostSourceEnum.PUSH and agent.stale is False
        assert agent.last_seen == now - timedelta(seconds=8)

        one = resources["retrieve"].sync(client=client, id=created.id)
        assert isinstance(one, models.Resource) and one.value == 0.75
        patched = resources["partial_update"].sync(
            client=client, id=created.id, body=models.PatchedResourceRequest(value=0.8)
        )
        assert isinstance(patched, models.Resource) and patched.value == 0.8
        gone = resources["destroy"].sync_detailed(client=client, id=created.id)
        assert gone.status_code == 204
        missing = resources["retrieve"].sync(client=client, id=created.id)
        assert isinstance(missing, models.Detail) and missing.detail

        status = application.sync(client=client)
        assert isinstance(status, models.ApplicationStatus) and isinstance(status.broker, models.BrokerState)
        checked = health.sync(client=client)
        assert isinstance(checked, models.Health) and isinstance(checked.checks, models.HealthChecks)
        assert isinstance(checked.checks.workers, models.WorkersCheck)
