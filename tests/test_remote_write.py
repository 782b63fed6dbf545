"""Prometheus remote write 1.0 at /api/v1/write and /monitor/api/v1/write: lossless series, all or nothing."""

import base64
import math
import struct

import cramjam
import pytest

from monitor.api.auth import issue_token
from monitor.ingest import prompb, remote_write
from monitor.models import Sample, Series

pytestmark = pytest.mark.django_db

URL = "/api/v1/write"
T0 = 1_795_600_800_000  # ms
STALE = struct.unpack("<d", struct.pack("<Q", remote_write.STALE_NAN))[0]


@pytest.fixture(autouse=True)
def fresh_label_cache():
    remote_write.forget()


def write_request(*series: tuple[dict[str, str], list[tuple[float, int]]]) -> bytes:
    request = prompb.WriteRequest()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name, value in sorted(labels.items()):
            ts.labels.add(name=name, value=value)
        for value, ms in samples:
            ts.samples.add(value=value, timestamp=ms)
    return request.SerializeToString()


def post(client, raw: bytes, url: str = URL, compress: bool = True, **headers):
    body = bytes(cramjam.snappy.compress_raw(raw)) if compress else raw
    headers.setdefault("HTTP_CONTENT_ENCODING", "snappy")
    headers.setdefault("HTTP_X_PROMETHEUS_REMOTE_WRITE_VERSION", "0.1.0")
    return client.post(url, body, content_type="application/x-protobuf", **headers)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (payloads under 128 bytes), for bodies no encoder would write."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


# One series whose metric name is not UTF-8: protobuf's string type refuses it.
NOT_UTF8_LABEL = field(1, field(1, field(1, b"__name__") + field(2, b"cpu\xff")) + field(2, b"\x09" + bytes(8)))

NODE_CPU = {"__name__": "node_cpu_seconds_total", "cpu": "0", "mode": "idle", "instance": "db-1:9100", "job": "node"}


def test_it_stores_series_with_every_label(client):
    answer = post(client, write_request((NODE_CPU, [(10.5, T0), (11.0, T0 + 15000)])))
    assert answer.status_code == 204, answer.content
    series = Series.objects.get()
    assert series.metric == "node_cpu_seconds_total"
    assert series.labels == {"cpu": "0", "mode": "idle", "instance": "db-1:9100", "job": "node"}
    assert series.host == "db-1"
    assert series.name == 'node_cpu_seconds_total{cpu="0",instance="db-1:9100",job="node",mode="idle"}'
    assert list(Sample.objects.order_by("ts").values_list("ts", "value")) == [
        (T0 * 1000, 10.5),
        (T0 * 1000 + 15_000_000, 11.0),
    ]


@pytest.mark.parametrize(
    ("labels", "host"),
    [
        ({"instance": "db-1:9100"}, "db-1"),
        ({"instance": "[::1]:9100"}, "::1"),
        ({"instance": "db-1"}, "db-1"),
        ({"instance": "db-1:9100", "host": "db-one"}, "db-one"),
        ({"job": "federate"}, ""),
    ],
)
def test_it_takes_the_host_from_a_host_label_or_the_instance(client, labels, host):
    assert post(client, write_request(({"__name__": "up", **labels}, [(1.0, T0)]))).status_code == 204
    series = Series.objects.get()
    assert (series.host, series.labels) == (host, labels)


def test_it_also_answers_under_monitor(client):
    assert post(client, write_request((NODE_CPU, [(1.0, T0)])), url="/monitor/api/v1/write").status_code == 204


def test_a_recording_rule_name_with_colons_stays_one_metric(client):
    assert post(client, write_request(({"__name__": "job:cpu:rate5m"}, [(0.5, T0)]))).status_code == 204
    series = Series.objects.get()
    assert (series.name, series.metric, series.labels) == ("job:cpu:rate5m", "job:cpu:rate5m", {})


def test_it_drops_stale_markers_and_skips_nan_and_inf(client):
    samples = [(STALE, T0), (math.nan, T0 + 1), (math.inf, T0 + 2), (-math.inf, T0 + 3), (4.0, T0 + 4)]
    assert post(client, write_request((NODE_CPU, samples))).status_code == 204
    assert list(Sample.objects.values_list("value", flat=True)) == [4.0]


def test_a_series_that_went_round_a_scrape_and_write_loop_twice_is_dropped(client, caplog):
    looped = {**NODE_CPU, "exported_exported_instance": "db-1:9100", "exported_instance": "monitor:443"}
    pushgateway = {"__name__": "backup_ok", "exported_job": "backup", "instance": "pgw:9091", "job": "pushgateway"}
    raw = write_request((looped, [(1.0, T0)]), (pushgateway, [(1.0, T0)]), (NODE_CPU, [(2.0, T0)]))
    assert post(client, raw).status_code == 204
    assert post(client, raw).status_code == 204  # the label set is cached as looped
    assert sorted(Series.objects.values_list("metric", flat=True)) == ["backup_ok", "node_cpu_seconds_total"]
    assert Sample.objects.count() == 2
    assert "honor_labels" in caplog.text
    counted = 'db_django_ingest_dropped_samples_total{protocol="remote_write",reason="loop"} '
    lines = client.get("/monitor/metrics").content.decode().splitlines()
    assert [float(line.removeprefix(counted)) >= 2 for line in lines if line.startswith(counted)] == [True]


def test_a_resent_batch_stores_nothing_twice(client):
    raw = write_request((NODE_CPU, [(1.0, T0)]))
    assert post(client, raw).status_code == 204
    assert post(client, raw).status_code == 204
    assert Sample.objects.count() == 1


def test_another_value_at_a_stored_instant_is_a_conflict(client):
    assert post(client, write_request((NODE_CPU, [(1.0, T0)]))).status_code == 204
    answer = post(client, write_request(({**NODE_CPU, "cpu": "1"}, [(5.0, T0)]), (NODE_CPU, [(2.0, T0)])))
    assert answer.status_code == 409
    assert "node_cpu_seconds_total" in answer.json()["detail"]
    assert Sample.objects.count() == 1


@pytest.mark.parametrize(
    ("raw", "compress", "reason"),
    [
        (b"not snappy at all", False, "snappy"),
        (b"\x0a\x05garbage", True, "WriteRequest"),
        (write_request(({"job": "x"}, [(1.0, T0)])), True, "__name__"),
        (write_request(({"__name__": "m", "bad-label": "x"}, [(1.0, T0)])), True, "invalid label name"),
        (write_request(({"__name__": "m.dotted"}, [(1.0, T0)])), True, "invalid metric name"),
        (write_request(({"__name__": "m", "a": "x" * 1000}, [(1.0, T0)])), True, "at most 1000"),
        (write_request(({"__name__": "m"}, [(1.0, 2**62)])), True, "out of range"),
        (NOT_UTF8_LABEL, True, "WriteRequest"),
    ],
)
def test_a_malformed_request_is_refused_with_the_reason_and_stores_nothing(client, raw, compress, reason):
    good = write_request((NODE_CPU, [(1.0, T0)]))
    answer = post(client, good + raw if compress else raw, compress=compress)
    assert answer.status_code == 400, answer.content
    assert reason in answer.json()["detail"]
    assert not Sample.objects.exists()


def test_a_body_that_unpacks_beyond_the_limit_is_refused_unread(client, settings):
    settings.INGEST_MAX_BYTES = 1024
    raw = write_request(*[({**NODE_CPU, "cpu": str(i)}, [(1.0, T0)]) for i in range(100)])
    answer = post(client, raw)
    assert answer.status_code == 413
    assert "INGEST_MAX_BYTES" in answer.json()["detail"]
    assert not Sample.objects.exists()


def test_other_encodings_and_remote_write_2_are_unsupported(client):
    raw = write_request((NODE_CPU, [(1.0, T0)]))
    assert post(client, raw, HTTP_CONTENT_ENCODING="gzip").status_code == 415
    answer = client.post(
        URL,
        bytes(cramjam.snappy.compress_raw(raw)),
        content_type="application/x-protobuf;proto=io.prometheus.write.v2.Request",
        HTTP_CONTENT_ENCODING="snappy",
    )
    assert answer.status_code == 415


@pytest.mark.parametrize("form", ["Bearer {key}", "Token {key}", "Basic {basic}"])
def test_it_takes_a_write_token_as_prometheus_sends_it(client, settings, form):
    settings.API_REQUIRE_AUTH = True
    _, key = issue_token("prometheus", "write")
    basic = base64.b64encode(f"prometheus:{key}".encode()).decode()
    raw = write_request((NODE_CPU, [(1.0, T0)]))
    assert post(client, raw, HTTP_AUTHORIZATION=form.format(key=key, basic=basic)).status_code == 204
    assert Sample.objects.count() == 1


def test_it_refuses_anonymous_and_read_only_writers_when_auth_is_required(client, settings):
    settings.API_REQUIRE_AUTH = True
    _, read_key = issue_token("grafana", "read")
    raw = write_request((NODE_CPU, [(1.0, T0)]))
    assert post(client, raw).status_code == 401
    assert post(client, raw, HTTP_AUTHORIZATION=f"Bearer {read_key}").status_code == 403
    assert post(client, raw, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert not Sample.objects.exists()


def test_a_timestamp_past_year_9999_is_refused_and_stores_nothing(client):
    answer = post(client, write_request((NODE_CPU, [(1.0, T0), (2.0, 300_000_000_000_000)])))
    assert answer.status_code == 400
    assert "out of range" in answer.json()["detail"]
    assert not Sample.objects.exists()


def test_a_label_with_an_empty_value_is_no_label(client):
    # Prometheus' data model: `up{}` and `up{foo=""}` are one series.
    bare = {"__name__": "up", "instance": "db-1:9100"}
    answer = post(client, write_request((bare, [(1.0, T0)]), ({**bare, "foo": ""}, [(1.0, T0 + 15000)])))
    assert answer.status_code == 204, answer.content
    assert list(Series.objects.values_list("name", flat=True)) == ['up{instance="db-1:9100"}']
    assert Sample.objects.count() == 2


def test_a_series_pushed_under_one_of_our_own_names_does_not_repeat_that_family(client):
    # A Prometheus that scrapes us and remote-writes what it scraped sends our own figures back.
    from django.utils import timezone

    now = int(timezone.now().timestamp() * 1000)
    ours = {"__name__": "db_django_series", "host": "db-1", "instance": "monitor:443", "job": "db_django"}
    assert post(client, write_request((ours, [(5.0, now)]))).status_code == 204
    body = client.get("/monitor/metrics").content.decode()
    assert body.count("# TYPE db_django_series ") == 1
    assert 'job="db_django"' not in body
