"""The catalog's latest values in the text exposition format: one query, no sample read.

A series is live while its latest value is at most HOST_STALE_AFTER old;
older ones are left out, as Prometheus itself drops a target's series once it
stops answering. Two series that map to one name and label set are exposed
once, the newer value winning, since a scrape with a duplicate is refused whole.

Written out here rather than through prometheus-client's Metric objects and
encoder: for 10,000 series the library took about three times as long to
encode (bench/exposition.py; the app's own figures still go through it). The
lines are the same in the Prometheus text format 0.0.4 and OpenMetrics 1.0
(which adds `# EOF`, written by the app's part that follows), except the type
of a remote-written series: `untyped` there, `unknown` here.
"""

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

from prometheus_client.utils import floatToGoString

from monitor.models import Rollup

from .naming import rule
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


def exposition(
    rows: Iterable[Latest],
    names: Sequence[str] = (),
    selectors: Sequence[Selector] = (),
    openmetrics: bool = False,
    reserved: Set[str] = frozenset(),
) -> str:
    """The families of `rows`, sorted by name and labels; `names`/`selectors` narrow them (any may match).

    `names` match the exposed name or the stored metric (`cpu.percent`); series
    whose exposed name is in `reserved` (the app's own families) are left out.
    """
    wanted = set(names)
    picked: dict[tuple, tuple] = {}
    for row in rows:
        name, scale, native = rule(row.metric)
        if name in reserved:
            continue
        labels = row.labels or {}
        if row.host and "host" not in labels and "instance" not in labels:
            labels = {**labels, "host": row.host}
        if (wanted or selectors) and not (
            name in wanted or row.metric in wanted or any(select(name, labels) for select in selectors)
        ):
            continue
        key = (name, *sorted(labels.items()))
        held = picked.get(key)
        if held is None or row.ts > held[0]:
            picked[key] = (row.ts, row.value * scale, row.description, native)
    lines: list[str] = []
    current = None
    untyped = "unknown" if openmetrics else "untyped"
    for key in sorted(picked):
        name, *labels = key
        _, value, description, native = picked[key]
        if name != current:
            current = name
            lines.append(
                f"# HELP {name} {_help(description or name)}\n# TYPE {name} {untyped if native else 'gauge'}\n"
            )
        if labels:
            body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(f"{name}{{{body}}} {floatToGoString(value)}\n")
        else:
            lines.append(f"{name} {floatToGoString(value)}\n")
    return "".join(lines)


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")
