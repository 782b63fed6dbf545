"""The catalog's latest values as Prometheus metric families: one query, no sample read.

A series is live while its latest value is at most HOST_STALE_AFTER old;
older ones are left out, as Prometheus itself drops a target's series once it
stops answering. Two series that map to one name and label set (the same
remote-written series from two hosts without `host`/`instance` labels cannot:
their host is added) are exposed once, the newer value winning, since a scrape
with a duplicate is refused whole.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric

from monitor.models import Rollup

from .naming import exposed
from .selectors import Selector


@dataclass(frozen=True, slots=True)
class Latest:
    value: float
    ts: int
    metric: str
    labels: Mapping[str, str]
    host: str
    description: str


def live(hosts: Sequence[str], since_us: int) -> list[Latest]:
    """Latest values newer than `since_us` (microseconds), of `hosts` only when given."""
    rows = Rollup.objects.filter(step=Rollup.LATEST, bucket=0, last_ts__gte=since_us)
    if hosts:
        rows = rows.filter(series__host__in=hosts)
    return [
        Latest(*fields)
        for fields in rows.values_list(
            "last", "last_ts", "series__metric", "series__labels", "series__host", "series__description"
        )
    ]


def families(rows: Iterable[Latest], names: Sequence[str] = (), selectors: Sequence[Selector] = ()) -> list[Metric]:
    """Metric families of `rows`, sorted by name and labels; `names`/`selectors` narrow them (any may match).

    `names` match the exposed name or the stored metric (`cpu.percent`).
    """
    wanted = set(names)
    picked: dict[tuple, tuple[int, str, float, str, bool, dict]] = {}
    for row in rows:
        out = exposed(row.metric, row.labels or {}, row.host)
        if wanted or selectors:
            by_name = out.name in wanted or row.metric in wanted
            if not by_name and not any(select(out.name, out.labels) for select in selectors):
                continue
        key = (out.name, tuple(sorted(out.labels.items())))
        held = picked.get(key)
        if held is None or row.ts > held[0]:
            picked[key] = (row.ts, out.name, row.value * out.scale, row.description, out.native, out.labels)
    found: dict[str, Metric] = {}
    for key in sorted(picked):
        _, name, value, description, native, labels = picked[key]
        family = found.get(name)
        if family is None:
            family = found[name] = Metric(name, description or name, "unknown" if native else "gauge")
        family.add_sample(name, labels, value)
    return list(found.values())
