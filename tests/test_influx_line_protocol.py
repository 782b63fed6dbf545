"""InfluxDB line protocol at /monitor/write (v1) and /api/v2/write (v2): series, precision, errors, tokens."""

import base64
import gzip

import pytest

from monitor.api.auth import issue_token
from monitor.models import Sample, Series

pytestmark = pytest.mark.django_db

V2 = "/api/v2/write"
V1 = "/monitor/write"
T0_S = 1_795_600_800


def write(client, body: str | bytes, url: str = V2, **params_and_headers):
    headers = {k: v for k, v in params_and_headers.items() if k.startswith("HTTP_")}
    params = {k: v for k, v in params_and_headers.items() if not k.startswith("HTTP_")}
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.post(f"{url}?{query}" if query else url, body, content_type="text/plain; charset=utf-8", **headers)


def stored() -> dict[tuple[str, str], list[tuple[int, float]]]:
    found: dict = {}
    for name, host, ts, value in Sample.objects.order_by("ts").values_list(
        "series__name", "series__host", "ts", "value"
    ):
        found.setdefault((name, host), []).append((ts, value))
    return found


def test_each_field_is_a_series_named_measurement_dot_field_with_tags_as_labels(client):
    body = f"cpu,cpu=cpu-total,host=web-1 usage_idle=97.5,usage_user=1.25 {T0_S}000000000\n"
    assert write(client, body).status_code == 204
    assert stored() == {
        ('cpu.usage_idle{cpu="cpu-total"}', "web-1"): [(T0_S * 1_000_000, 97.5)],
        ('cpu.usage_user{cpu="cpu-total"}', "web-1"): [(T0_S * 1_000_000, 1.25)],
    }
    series = Series.objects.get(metric="cpu.usage_idle")
    assert (series.labels, series.host) == ({"cpu": "cpu-total"}, "web-1")


def test_glances_hostname_tag_is_the_host_when_there_is_no_host_tag(client):
    body = f"fs,hostname=laptop,mnt_point=/ used=5,1x=2 {T0_S}\nfs,host=h,hostname=laptop used=6 {T0_S}"
    assert write(client, body, precision="s").status_code == 204
    assert dict(Series.objects.values_list("name", "host")) == {
        'fs.used{mnt_point="/"}': "laptop",
        'fs.1x{mnt_point="/"}': "laptop",
        'fs.used{hostname="laptop"}': "h",
    }


def test_integers_and_booleans_are_stored_and_strings_skipped(client):
    body = f'mem,host=h total=8589934592i,free=12u,swap_on=true,state="ok" {T0_S}'
    assert write(client, body, precision="s").status_code == 204
    assert stored() == {
        ("mem.total", "h"): [(T0_S * 1_000_000, 8589934592.0)],
        ("mem.free", "h"): [(T0_S * 1_000_000, 12.0)],
        ("mem.swap_on", "h"): [(T0_S * 1_000_000, 1.0)],
    }


@pytest.mark.parametrize(
    ("precision", "stamp", "us"),
    [
        ("ns", "1795600800123456789", 1795600800123456),
        ("us", "1795600800123456", 1795600800123456),
        ("ms", "1795600800123", 1795600800123000),
        ("s", "1795600800", 1795600800000000),
        ("n", "1795600800123456789", 1795600800123456),
        ("u", "1795600800123456", 1795600800123456),
        ("m", "29926680", 1795600800000000),
        ("h", "498778", 1795600800000000),
    ],
)
def test_the_precision_parameter_sets_the_timestamp_unit(client, precision, stamp, us):
    assert write(client, f"m v=1 {stamp}", precision=precision).status_code == 204
    assert Sample.objects.get().ts == us


def test_a_line_without_a_timestamp_gets_the_time_of_the_request(client):
    assert write(client, "m v=1").status_code == 204
    assert Sample.objects.count() == 1


def test_escapes_in_measurement_tags_and_fields(client):
    body = r'my\ disk,path=/var\,x,dev\=ice=sd\ a used\ pct=5,note="a \"b\"" ' + str(T0_S)
    assert write(client, body, precision="s").status_code == 204
    series = Series.objects.get()
    assert series.metric == "my disk.used pct"
    assert series.labels == {"path": "/var,x", "dev_ice": "sd a"}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("cpu", "missing fields"),
        ("cpu value=", "expected key=value"),
        ("cpu value=abc", "invalid number"),
        ("cpu value=1 12:00", "invalid timestamp"),
        ("cpu,tag value=1", "invalid tag"),
        ('cpu value="open', "unterminated string"),
        ("cpu value=1e400", "out of range"),
        ("cpu value=-1u", "invalid integer"),
        ("cpu value=1 1 2", "too many spaces"),
        ("cpu,host=h 1795600800000000000", "missing fields"),
        ("cpu,a=1,a=2 value=1", "duplicate tag 'a'"),
        ("cpu value=9223372036854775808i", "out of range"),
        ("cpu value=18446744073709551616u", "out of range"),
        ("cpu value=1 100000000000000000000", "out of range"),
    ],
)
def test_a_malformed_line_refuses_the_batch_naming_its_line_as_influxdb_does(client, line, reason):
    body = f"good,host=h v=1 {T0_S}000000000\n\n# a comment\n{line}\ngood,host=h v=2 {T0_S + 1}000000000\n"
    answer = write(client, body)
    assert answer.status_code == 400
    error = answer.json()
    assert error["code"] == "invalid"
    assert error["line"] == 4
    assert "line 4" in error["message"] and reason in error["message"]
    assert not Sample.objects.exists()


def test_an_unknown_precision_is_refused(client):
    answer = write(client, "m v=1", precision="fortnight")
    assert answer.status_code == 400 and answer.json()["code"] == "invalid"


def test_it_reads_gzip_bodies_as_telegraf_sends_them_within_the_bound(client, settings):
    body = gzip.compress(f"m,host=h v=1 {T0_S}000000000".encode())
    assert write(client, body, HTTP_CONTENT_ENCODING="gzip").status_code == 204
    settings.INGEST_MAX_BYTES = 1024
    bomb = gzip.compress(b"m v=1\n" * 100_000)
    answer = write(client, bomb, HTTP_CONTENT_ENCODING="gzip")
    assert answer.status_code == 413
    assert Sample.objects.count() == 1


def test_the_v1_endpoint_takes_the_same_lines(client):
    assert write(client, f"m,host=h v=1 {T0_S}", url=V1, db="telegraf", precision="s").status_code == 204
    assert stored() == {("m.v", "h"): [(T0_S * 1_000_000, 1.0)]}


@pytest.mark.parametrize("form", ["header", "query", "basic", "v2-basic"])
def test_it_takes_the_token_in_every_form_influxdb_clients_send(client, settings, form):
    settings.API_REQUIRE_AUTH = True
    _, key = issue_token("telegraf", "write")
    basic = "Basic " + base64.b64encode(f"telegraf:{key}".encode()).decode()
    if form == "header":
        answer = write(client, "m v=1", HTTP_AUTHORIZATION=f"Token {key}")
    elif form == "query":
        answer = write(client, "m v=1", url=V1, u="telegraf", p=key)
    elif form == "basic":
        answer = write(client, "m v=1", url=V1, HTTP_AUTHORIZATION=basic)
    else:
        answer = write(client, "m v=1", HTTP_AUTHORIZATION=basic)
    assert answer.status_code == 204, answer.content
    assert Sample.objects.count() == 1


def test_without_a_write_token_nothing_is_stored(client, settings):
    settings.API_REQUIRE_AUTH = True
    _, read_key = issue_token("grafana", "read")
    assert write(client, "m v=1").status_code == 401
    assert write(client, "m v=1", HTTP_AUTHORIZATION=f"Token {read_key}").status_code == 403
    assert write(client, "m v=1", url=V1, p="wrong").status_code == 401
    assert not Sample.objects.exists()


def test_the_widest_integers_influxdb_takes_are_stored(client):
    body = f"m,host=h low=-9223372036854775808i,high=18446744073709551615u {T0_S}000000000"
    assert write(client, body).status_code == 204
    values = dict(Sample.objects.values_list("series__name", "value"))
    assert values == {"m.low": -9223372036854775808.0, "m.high": 18446744073709551615.0}


def test_lines_of_one_series_without_timestamps_are_both_stored_a_microsecond_apart(client):
    assert write(client, "m,host=h v=1\nm,host=h v=2\nother,host=h v=3").status_code == 204
    samples = stored()
    (first, one), (second, two) = samples[("m.v", "h")]
    assert (one, two, second - first) == (1.0, 2.0, 1)
    assert [value for _, value in samples[("other.v", "h")]] == [3.0]


def test_a_reserved_tag_name_becomes_a_label_prometheus_takes(client):
    assert write(client, "evil,host=h,__name__=x,__meta=y v=1").status_code == 204
    assert list(Series.objects.values_list("name", flat=True)) == ['evil.v{tag__meta="y",tag__name__="x"}']
    body = client.get("/monitor/metrics", {"host": "h"}).content.decode()
    assert 'db_django_evil_v{host="h",tag__meta="y",tag__name__="x"} 1.0' in body


def test_a_field_with_colons_and_no_tags_keeps_its_whole_name(client):
    # Telegraf's Prometheus input sends recording rules' names as fields: `job:requests:rate5m`.
    assert write(client, "prometheus,host=h job:requests:rate5m=5").status_code == 204
    series = Series.objects.get()
    assert (series.metric, series.labels) == ("prometheus.job:requests:rate5m", {})
    body = client.get("/monitor/metrics", {"host": "h"}).content.decode()
    assert 'db_django_prometheus_job:requests:rate5m{host="h"} 5.0' in body


def test_every_member_of_a_gzip_body_is_read(client):
    body = gzip.compress(f"a,host=h v=1 {T0_S}000000000\n".encode()) + gzip.compress(
        f"b,host=h v=2 {T0_S}000000000\n".encode()
    )
    assert write(client, body, HTTP_CONTENT_ENCODING="gzip").status_code == 204
    assert sorted(name for name, _ in stored()) == ["a.v", "b.v"]
    answer = write(client, body + b"not gzip", HTTP_CONTENT_ENCODING="gzip")
    assert answer.status_code == 400


def test_a_timestamp_past_influxdb_range_in_its_precision_is_refused(client):
    answer = write(client, "m,host=h v=1 300000000000", precision="s")  # year 11476
    assert answer.status_code == 400 and "out of range" in answer.json()["message"]
    assert not Sample.objects.exists()


def test_refusals_before_the_parse_answer_in_influxdb_form(client, settings):
    # influxdb-client and Telegraf show `code` and `message`; DRF's `detail` would come out blank.
    settings.API_REQUIRE_AUTH = True
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    _, read_key = issue_token("grafana", "read")
    _, write_key = issue_token("telegraf", "write")
    unauthorized = write(client, "m v=1")
    forbidden = write(client, "m v=1", HTTP_AUTHORIZATION=f"Token {read_key}")
    too_large = write(client, "m v=1 1\n" * 200, HTTP_AUTHORIZATION=f"Token {write_key}")
    assert (unauthorized.status_code, unauthorized.json()["code"]) == (401, "unauthorized")
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "forbidden")
    assert (too_large.status_code, too_large.json()["code"]) == (413, "request too large")
    for answer in (unauthorized, forbidden, too_large):
        assert set(answer.json()) == {"code", "message"} and answer.json()["message"]
    assert not Sample.objects.exists()


def test_refusals_before_the_view_answer_in_influxdb_form_too(client):
    # A body the development server cannot read (chunked) is refused by a middleware, before the view.
    answer = client.post(V2, b"m v=1", content_type="text/plain", HTTP_TRANSFER_ENCODING="chunked")
    assert answer.status_code == 411
    assert answer.json() == {
        "code": "invalid",
        "message": "Length required: send the body with a Content-Length header.",
    }
