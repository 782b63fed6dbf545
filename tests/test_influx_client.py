"""A real InfluxDB client (influxdb-client, as Glances' influxdb2 export uses it) writes to us; we read it back."""

from datetime import UTC, datetime

import pytest
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from monitor.api.auth import issue_token

pytestmark = pytest.mark.django_db(transaction=True)


def test_influxdb_client_writes_line_protocol_we_read_back(live_server, settings, client):
    settings.API_REQUIRE_AUTH = True
    _, key = issue_token("glances", "write")
    at = datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)
    points = [
        Point("cpu")
        .tag("host", "laptop")
        .tag("cpu", "cpu-total")
        .field("usage_idle", 91.5)
        .time(at, WritePrecision.US),
        Point("mem").tag("host", "laptop").field("used_percent", 42.0).field("total", 8 * 2**30).time(at),
    ]
    with InfluxDBClient(url=live_server.url, token=key, org="home", timeout=10_000) as influx:
        influx.write_api(write_options=SYNCHRONOUS).write(bucket="glances", record=points)
        influx.write_api(write_options=SYNCHRONOUS).write(
            bucket="glances", record="load,host=laptop min1=0.5 1795600800", write_precision=WritePrecision.S
        )
    answer = client.get("/monitor/resources/latest/", {"host": "laptop"}, HTTP_AUTHORIZATION=f"Token {key}")
    rows = {row["name"]: (row["value"], row["timestamp"]) for row in answer.json()}
    assert rows == {
        'cpu.usage_idle{cpu="cpu-total"}': (91.5, "2026-11-25T10:00:00.123456Z"),
        "mem.used_percent": (42.0, "2026-11-25T10:00:00.123456Z"),
        "mem.total": (float(8 * 2**30), "2026-11-25T10:00:00.123456Z"),
        "load.min1": (0.5, "2026-11-25T10:00:00Z"),
    }
