"""A series' Prometheus name and labels: one predictable rule, so a dashboard can be written against it.

1. A metric that already is a Prometheus name (no dot; what remote_write and
   scrape targets store: `node_cpu_seconds_total`) keeps its name and labels
   unchanged.
2. A dotted name (our collectors', line protocol's `measurement.field`, any
   other name posted to the API) becomes `db_django_` + the name with every
   character outside [A-Za-z0-9_:] as `_`, converted to base units:
   `*_percent` and `*.percent` -> `*_ratio`, value / 100
   (`cpu.percent` -> `db_django_cpu_ratio`, `disk.used_percent` ->
   `db_django_disk_used_ratio`); the two `*_ratio` metrics our collectors
   report in percent (PERCENT_RATIOS) keep their name, value / 100;
   `*_per_minute` -> `*_per_second`, value / 60. `_bytes`, `_seconds`,
   `_bytes_per_second` names are base units already and stay.
Label names are the catalog's, valid Prometheus label names already
(monitor/storage/names.py parses only those; line protocol tags are made so).
Every sample carries a `host` label (the series' host) unless its labels
already have `host` or `instance`: remote-written series keep exactly the
labels their sender gave them.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

PREFIX = "db_django_"
# Our collectors' ratios reported in percent (README "Metrics"): exposed 0-1.
PERCENT_RATIOS = frozenset({"mysql.buffer_pool_hit_ratio", "redis.keyspace_hit_ratio"})
_PROMETHEUS_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_:]")


@dataclass(frozen=True, slots=True)
class Exposed:
    name: str
    labels: dict[str, str]
    scale: float  # exposed value = stored value * scale
    native: bool  # rule 1: a Prometheus series as its sender named it


def exposed(metric: str, labels: dict[str, str], host: str) -> Exposed:
    """The Prometheus name, labels and value scale of the series (metric, labels) of `host`."""
    name, scale, native = rule(metric)
    out = dict(labels)
    if host and "host" not in out and "instance" not in out:
        out["host"] = host
    return Exposed(name, out, scale, native)


@lru_cache(maxsize=100_000)
def rule(metric: str) -> tuple[str, float, bool]:
    """(exposed name, value scale, native) of a stored metric; labels need no change (the catalog's are valid)."""
    if "." not in metric and _PROMETHEUS_NAME.match(metric) is not None:
        return metric, 1.0, True
    name, scale = base_units(metric)
    return PREFIX + _NAME_CHARS.sub("_", name), scale, False


def base_units(metric: str) -> tuple[str, float]:
    """(name in base units, factor to them): percent -> ratio, per minute -> per second."""
    if metric in PERCENT_RATIOS:
        return metric, 0.01
    for suffix in ("_percent", ".percent"):
        if metric.endswith(suffix):
            return metric[: -len(suffix)] + "_ratio", 0.01
    if metric.endswith("_per_minute"):
        return metric[: -len("_per_minute")] + "_per_second", 1 / 60
    return metric, 1.0
