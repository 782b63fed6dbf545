"""InfluxDB line protocol -> Points, all lines or none.

    cpu,cpu=cpu-total,host=web-1 usage_idle=97.5,usage_user=1.25 1796000000000000000

Each numeric field is one series: metric `<measurement>.<field>` (`cpu.usage_idle`),
labels = the tags except `host`, which becomes the series' host (Telegraf tags
every point with it; Glances says `hostname`, taken when there is no `host`).
Tag keys are made Prometheus label names (characters other than letters,
digits and `_` become `_`; a leading digit gets a `_` before it; a leading `__`,
which Prometheus reserves, gets `tag` before it). Integers (`12i`, `12u`, in
InfluxDB's int64 and uint64 ranges), floats and booleans (1/0) are stored; string
fields are skipped (a sample is a number). The timestamp is in `precision` units
(ns by default), within InfluxDB's range (int64 nanoseconds: 1677 to 2262),
stored to the microsecond; a line without one gets the time the request arrived
(two of one series in a request a microsecond apart, as the JSON API does).

A malformed line refuses the whole batch, as InfluxDB 1.x does: `Malformed`
names its line number (from 1) and the reason, and nothing is stored.
"""

import math
import re
from dataclasses import dataclass

from monitor.models import Series
from monitor.storage.inserts import MAX_ABS_VALUE, Point
from monitor.storage.names import render

# precision parameter -> microseconds per unit; v2 spells ns/us/ms/s, v1 n/u/ms/s/m/h.
PRECISIONS = {
    "ns": None,
    "n": None,
    "us": 1,
    "u": 1,
    "µ": 1,
    "ms": 1000,
    "s": 1_000_000,
    "m": 60_000_000,
    "h": 3_600_000_000,
}
_FLOAT = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^-?\d+[iu]$")
_TIMESTAMP = re.compile(r"^-?\d+$")
_BOOLEANS = {"t": 1.0, "T": 1.0, "true": 1.0, "True": 1.0, "TRUE": 1.0}
_BOOLEANS |= {"f": 0.0, "F": 0.0, "false": 0.0, "False": 0.0, "FALSE": 0.0}
_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_]")
_NAME_LIMIT = Series._meta.get_field("name").max_length
_METRIC_LIMIT = Series._meta.get_field("metric").max_length
_HOST_LIMIT = Series._meta.get_field("host").max_length
_INT64 = 2**63 - 1
_UINT64 = 2**64 - 1
_NS_RANGE_US = _INT64 // 1000  # InfluxDB's timestamps are int64 nanoseconds


@dataclass
class Malformed(ValueError):
    """A line that is not line protocol: its number (from 1), the reason, and the line (cut short)."""

    line: int
    reason: str
    text: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason} ({self.text[:200]!r})"


def precision_factor(precision: str) -> int | None:
    """Microseconds per timestamp unit (None: nanoseconds); ValueError for an unknown precision."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of ns, us, ms, s (v1: n, u, ms, s, m, h)")
    return PRECISIONS[precision]


def points(text: str, precision: str, now_us: int) -> list[Point]:
    """Every numeric field of every line of `text` as a Point; Malformed for the first bad line."""
    factor = precision_factor(precision)
    found: list[Point] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            found += _line(line, factor, now_us)
        except ValueError as exc:
            raise Malformed(number, str(exc), line) from None
    return found


def _line(line: str, factor: int | None, now_us: int) -> list[Point]:
    if "\\" in line or '"' in line:
        key, fields, stamp = _split_escaped(line)
    else:
        parts = line.split(" ")
        if len(parts) == 2:
            (key, fields), stamp = parts, ""
            if "=" not in fields:
                raise ValueError("missing fields")
        elif len(parts) == 3:
            key, fields, stamp = parts
        else:
            raise ValueError("missing fields" if len(parts) < 2 else "too many spaces (escape them with \\)")
        fields = [tuple(field.split("=", 1)) for field in fields.split(",")]
        key = [part.split("=", 1) if index else part for index, part in enumerate(key.split(","))]
    measurement, *tags = key
    if not measurement:
        raise ValueError("missing measurement")
    labels: dict[str, str] = {}
    for tag in tags:
        if len(tag) != 2 or not tag[0] or not tag[1]:
            raise ValueError(f"invalid tag {'='.join(tag)!r}: expected key=value")
        label = _label(tag[0])
        if label in labels:
            raise ValueError(f"duplicate tag {tag[0]!r}" if label == tag[0] else f"tag {tag[0]!r} repeats {label!r}")
        labels[label] = tag[1]
    host = labels.pop("host", None) or labels.pop("hostname", "")
    if len(host) > _HOST_LIMIT:
        raise ValueError(f"host tag longer than {_HOST_LIMIT} characters")
    ts = _timestamp(stamp, factor, now_us)
    found = []
    for field in fields:
        if len(field) != 2 or not field[0] or not field[1]:
            raise ValueError(f"invalid field {'='.join(field)!r}: expected key=value" if field[0] else "missing fields")
        field_key, raw = field
        value = _value(field_key, raw)
        if value is None:
            continue
        metric = f"{measurement}.{field_key}"
        if len(metric) > _METRIC_LIMIT:
            raise ValueError(f"measurement and field name longer than {_METRIC_LIMIT} characters")
        name = render(metric, labels)
        if len(name) > _NAME_LIMIT:
            raise ValueError(f"measurement, field and tags longer than {_NAME_LIMIT} characters")
        found.append(Point(name, host, ts, value, server_timed=not stamp))
    return found


def _label(key: str) -> str:
    name = _LABEL_CHARS.sub("_", key)
    if name.startswith("__"):  # reserved by Prometheus (`__name__`): a scrape of it would fail whole
        return "tag" + name
    return "_" + name if name[0].isdigit() else name


def _value(key: str, raw: str) -> float | None:
    if raw[0] == '"':
        return None  # a string field: not a sample
    if raw in _BOOLEANS:
        return _BOOLEANS[raw]
    if raw[-1] in "iu":
        if not _INTEGER.match(raw) or (raw[-1] == "u" and raw[0] == "-"):
            raise ValueError(f"invalid integer value for field {key!r}: {raw!r}")
        number = int(raw[:-1])
        if not (-_INT64 - 1 <= number <= _INT64 if raw[-1] == "i" else number <= _UINT64):
            raise ValueError(f"value of field {key!r} out of range: {raw!r}")
        return float(number)
    if not _FLOAT.match(raw):
        raise ValueError(f"invalid number for field {key!r}: {raw!r}")
    value = float(raw)
    if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
        raise ValueError(f"value of field {key!r} out of range: {raw!r}")
    return value


def _timestamp(stamp: str, factor: int | None, now_us: int) -> int:
    if not stamp:
        return now_us
    if not _TIMESTAMP.match(stamp):
        raise ValueError(f"invalid timestamp {stamp!r}")
    units = int(stamp)
    ts = units // 1000 if factor is None else units * factor
    if not -_NS_RANGE_US <= ts <= _NS_RANGE_US:
        raise ValueError(f"timestamp {stamp} out of range (InfluxDB's: int64 nanoseconds, 1677 to 2262)")
    return ts


def _split_escaped(line: str) -> tuple[list, list, str]:
    """The slow path for lines with escapes (`\\,`, `\\ `, `\\=`) or string fields ("...")."""
    sections: list[list[list[str]]] = [[[""]]]  # sections -> items -> parts (key, value)
    quoted = False
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\" and index + 1 < len(line):
            nxt = line[index + 1]
            in_field_string = quoted
            if in_field_string and nxt in '"\\':
                sections[-1][-1][-1] += nxt
                index += 2
                continue
            if not in_field_string and nxt in ", =\\":
                sections[-1][-1][-1] += nxt
                index += 2
                continue
            sections[-1][-1][-1] += char
            index += 1
            continue
        if quoted:
            sections[-1][-1][-1] += char
            if char == '"':
                quoted = False
        elif char == '"' and len(sections) == 2 and sections[-1][-1][-1] == "" and len(sections[-1][-1]) == 2:
            sections[-1][-1][-1] += char
            quoted = True
        elif char == " ":
            if len(sections) == 3:
                raise ValueError("too many spaces (escape them with \\)")
            sections.append([[""]])
        elif char == ",":
            sections[-1].append([""])
        elif char == "=" and len(sections[-1][-1]) == 1 and not (len(sections) == 1 and len(sections[0]) == 1):
            sections[-1][-1].append("")
        else:
            sections[-1][-1][-1] += char
        index += 1
    if quoted:
        raise ValueError("unterminated string field")
    if len(sections) < 2:
        raise ValueError("missing fields")
    key = [sections[0][0][0], *sections[0][1:]]
    fields = [tuple(item) for item in sections[1]]
    stamp = sections[2][0][0] if len(sections) == 3 else ""
    return key, fields, stamp
