"""Prometheus remote write 1.0: a snappy-compressed protobuf WriteRequest -> Points.

Each TimeSeries is one series of the catalog: `metric` = its `__name__`,
`labels` = every other label, unchanged (monitor/storage/names.py renders them
as the series name, `node_cpu_seconds_total{cpu="0",instance="db-1:9100",...}`).
Its host is the `host` label if it has one, else the host part of `instance`
(`db-1:9100` -> `db-1`); both labels stay in the labels, so nothing is lost.

Values Prometheus may send that storage cannot hold: stale markers (the NaN
0x7ff0000000000002 Prometheus writes when a series disappears) are dropped,
as is any other NaN or +-Inf (a summary's quantile with no observations is
NaN); the count of each is returned, never stored. Anything else that is wrong
(not snappy, not a WriteRequest, a series without a name, an invalid label
name, a name too long for the catalog) refuses the whole request with 400 and
the reason, and nothing of it is stored.

A series with a label named `exported_exported_*` is dropped (reason `loop`):
only a loop makes one. A Prometheus that scrapes our /monitor/metrics without
`honor_labels` renames the `instance` and `job` of every series we hold to
`exported_instance` and `exported_job`; if it also remote-writes to us, those
come back as new series, are exposed again and come back renamed once more,
without end (a new generation of every series at every scrape). A single
`exported_` is kept: a Pushgateway scraped without `honor_labels` makes those
legitimately. So a loop stores one generation at most, and the operator learns
of it from the log and `db_django_ingest_dropped_samples_total{reason="loop"}`.
"""

import logging
import math
import re
import struct
import time
from collections import Counter

from google.protobuf.message import DecodeError

from monitor.models import Series
from monitor.storage.inserts import MAX_ABS_VALUE, Point
from monitor.storage.instants import MAX_US, MIN_US
from monitor.storage.names import render

from .bodies import BodyError, snappy_block
from .prompb import Label, WireWriteRequest

STALE_NAN = 0x7FF0000000000002
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_METRIC_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_NAME_LIMIT = Series._meta.get_field("name").max_length
_METRIC_LIMIT = Series._meta.get_field("metric").max_length
_HOST_LIMIT = Series._meta.get_field("host").max_length
_MIN_MS, _MAX_MS = -(-MIN_US // 1000), MAX_US // 1000  # what the API can show (storage/instants.py)
# Label sets (each label as its encoded bytes) this process has already turned into
# (host, name); a remote-writing Prometheus repeats the same series every scrape.
_series: dict[tuple[bytes, ...], tuple[str, str]] = {}
CACHE_LIMIT = 200_000
LOOPED = ("", "")  # the cached answer for a label set that went round a scrape/remote-write loop
LOOP_LABEL = "exported_exported_"
LOOP_WARN_SECONDS = 60.0  # a loop is logged at most this often per process
_loop_warned = -math.inf
logger = logging.getLogger(__name__)


class Refused(ValueError):
    """The request cannot be stored; `status` and the reason go back to the sender."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def decode(body: bytes, limit: int) -> WireWriteRequest:
    """The WriteRequest in a remote write body (snappy block format), at most `limit` bytes unpacked,
    its labels still encoded (prompb.WireWriteRequest)."""
    try:
        data = snappy_block(body, limit)
    except BodyError as exc:
        raise Refused(exc.status, str(exc)) from None
    try:
        return WireWriteRequest.FromString(data)
    except DecodeError as exc:
        raise Refused(400, f"Body is not a Prometheus WriteRequest (protobuf): {exc}") from None


def points(request: WireWriteRequest) -> tuple[list[Point], Counter]:
    """The samples of `request` as Points, and how many were dropped by reason (stale, nan, inf, out_of_range, loop)."""
    found: list[Point] = []
    dropped: Counter = Counter()
    cached, add = _series.get, found.append  # bound once: this loop runs for every sample
    for index, series in enumerate(request.timeseries):
        encoded = tuple(series.labels)
        known = cached(encoded) or _name(encoded, index)
        if known is LOOPED:
            dropped["loop"] += len(series.samples)
            continue
        host, name = known
        for sample in series.samples:
            value = sample.value
            if not -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:  # false for NaN too
                dropped[_why(value)] += 1
                continue
            ms = sample.timestamp
            if not _MIN_MS <= ms <= _MAX_MS:
                raise Refused(400, f"Series {index} ({name}): timestamp {ms} ms is out of range (years 1 to 9999).")
            add(Point(name, host, ms * 1000, value))
    return found, dropped


def _why(value: float) -> str:
    if math.isinf(value):
        return "inf"
    if math.isfinite(value):
        return "out_of_range"  # beyond MAX_ABS_VALUE
    return "stale" if struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN else "nan"


def _name(encoded: tuple[bytes, ...], index: int) -> tuple[str, str]:
    """(host, series name) of a label set, checked once per process and then cached."""
    metric = None
    rest: dict[str, str] = {}
    for key, value in _labels(encoded):
        if key == "__name__":
            metric = value
            continue
        if not _LABEL_NAME.match(key):
            raise Refused(400, f"Series {index}: invalid label name {key!r}.")
        if key in rest:
            raise Refused(400, f"Series {index}: label {key!r} appears twice.")
        if value:  # an empty value is no label at all (Prometheus' data model)
            rest[key] = value
    if not metric:
        raise Refused(400, f"Series {index}: no __name__ label (every series needs a metric name).")
    if any(key.startswith(LOOP_LABEL) for key in rest):
        _warn_loop(metric, rest)
        return _remember(encoded, LOOPED)
    if not _METRIC_NAME.match(metric) or len(metric) > _METRIC_LIMIT:
        raise Refused(400, f"Series {index}: invalid metric name {metric[:100]!r} (at most {_METRIC_LIMIT}).")
    name = render(metric, rest)
    if len(name) > _NAME_LIMIT:
        raise Refused(400, f"Series {index}: name and labels take {len(name)} characters; at most {_NAME_LIMIT}.")
    return _remember(encoded, (host_of(rest)[:_HOST_LIMIT], name))


def _remember(encoded: tuple[bytes, ...], known: tuple[str, str]) -> tuple[str, str]:
    if len(_series) >= CACHE_LIMIT:
        _series.clear()
    _series[encoded] = known
    return known


def _labels(encoded: tuple[bytes, ...]) -> list[tuple[str, str]]:
    """(name, value) of each encoded Label; a label that is not one (bad UTF-8 too) refuses the request."""
    try:
        labels = [Label.FromString(label) for label in encoded]
    except DecodeError as exc:
        raise Refused(400, f"Body is not a Prometheus WriteRequest (protobuf): a label: {exc}") from None
    return [(label.name, label.value) for label in labels]


def _warn_loop(metric: str, labels: dict[str, str]) -> None:
    global _loop_warned
    if time.monotonic() - _loop_warned < LOOP_WARN_SECONDS:
        return
    _loop_warned = time.monotonic()
    logger.warning(
        "remote write: dropped %s%s and every other series with an exported_exported_* label: the sending "
        "Prometheus scrapes /monitor/metrics without honor_labels and writes what it scraped back to us. When it "
        "scrapes us, keep only job=db_django (metric_relabel_configs), and never write job=db_django back "
        "(write_relabel_configs): README, Prometheus, Grafana and agents.",
        metric,
        "{" + ",".join(f"{k}={v!r}" for k, v in sorted(labels.items())) + "}",
    )


def host_of(labels: dict[str, str]) -> str:
    """The `host` label, else the host part of `instance` (`db-1:9100` -> db-1, `[::1]:9100` -> ::1)."""
    if labels.get("host"):
        return labels["host"]
    instance = labels.get("instance", "")
    if instance.startswith("["):
        return instance[1:].partition("]")[0]
    if instance.count(":") == 1:
        return instance.partition(":")[0]
    return instance


def forget() -> None:
    """Drop the label-set cache and the loop warning's clock (tests)."""
    global _loop_warned
    _series.clear()
    _loop_warned = -math.inf
