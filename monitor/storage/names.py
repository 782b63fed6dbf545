"""Series names as the API shows them, and the metric + labels they stand for.

Our collectors name a dimension after a colon (`disk.used_percent:/`,
`mysql.up:127.0.0.1:3306`: only after a dotted `family.metric`, since a colon
is part of Prometheus metric names such as `job:requests:rate5m`); Prometheus names carry labels in braces
(`node_cpu_seconds_total{cpu="0",mode="idle"}`). Both map onto one model, a
metric name plus a dict of labels, without loss: `render(parse(name)) == name`
for every name the API accepts, and every label set renders to one name.
"""

import hashlib
import re

# The label a colon dimension becomes, by metric family (the part before the first dot).
DIMENSION_LABELS = {
    "disk": "mount",
    "diskio": "device",
    "net": "interface",
    "mysql": "server",
    "redis": "server",
    "celery": "queue",
    "collection": "cycle",
}
DEFAULT_DIMENSION_LABEL = "dimension"
_LABEL_PAIR = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def dimension_label(metric: str) -> str:
    return DIMENSION_LABELS.get(metric.split(".", 1)[0], DEFAULT_DIMENSION_LABEL)


def parse(name: str) -> tuple[str, dict[str, str]]:
    """`disk.used_percent:/` -> ("disk.used_percent", {"mount": "/"}); `m{a="1"}` -> ("m", {"a": "1"})."""
    if name.endswith("}") and "{" in name:
        metric, _, body = name[:-1].partition("{")
        labels = _parse_braces(body) if body else {}
        if labels is not None and metric and render(metric, labels) == name:
            return metric, labels
    metric, colon, dimension = name.partition(":")
    if colon and "." in metric and dimension:
        return metric, {dimension_label(metric): dimension}
    return name, {}  # a Prometheus recording rule's `job:requests:rate5m` is one metric name


def render(metric: str, labels: dict[str, str]) -> str:
    """The API name of a metric and its labels (the inverse of `parse`).

    A metric without labels whose name would read as a colon dimension (line protocol's
    `prometheus.job:requests:rate5m`, a field of Telegraf's Prometheus input) is written
    with empty braces, so that it reads back as itself.
    """
    if not labels:
        head, colon, tail = metric.partition(":")
        return f"{metric}{{}}" if colon and "." in head and tail else metric
    if len(labels) == 1:
        ((key, value),) = labels.items()
        if key == dimension_label(metric) and value and "." in metric:
            return f"{metric}:{value}"
    body = ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(labels.items()))
    return f"{metric}{{{body}}}"


def series_key(host: str, name: str) -> str:
    """The catalog's unique key of (host, name): fixed length whatever theirs."""
    return hashlib.sha1(f"{host}\x00{name}".encode()).hexdigest()


def _parse_braces(body: str) -> dict[str, str] | None:
    labels: dict[str, str] = {}
    position = 0
    while position < len(body):
        match = _LABEL_PAIR.match(body, position)
        if match is None:
            return None
        labels[match.group(1)] = re.sub(r"\\[\\\"n]", lambda m: _ESCAPES[m.group(0)], match.group(2))
        position = match.end()
    return labels or None


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# Suffix -> unit, longest first: what the dashboard formats values with.
_UNIT_SUFFIXES = (
    ("_bytes_per_second", "bytes/s"),
    ("_per_second", "/s"),
    ("_per_minute", "/min"),
    ("_bytes", "bytes"),
    ("_percent", "%"),
    ("_seconds", "s"),
    ("_ratio", "ratio"),
    ("_total", "count"),
)


def unit_of(metric: str) -> str:
    """The unit a metric's name says it is in (`disk.used_bytes` -> bytes), or "" when it does not say."""
    if metric.startswith("load."):
        return "load"
    for suffix, unit in _UNIT_SUFFIXES:
        if metric.endswith(suffix):
            return unit
    return ""
