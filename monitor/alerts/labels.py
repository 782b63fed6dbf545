"""An alert's labels (what silences, channels and grouping match on) and its one-line summary.

Both helpers of issue 14 read labels through `alert_labels` so evaluation,
silences and payloads agree on one definition.
"""

from __future__ import annotations

import re
from typing import Any

from .models import AlertState, Severity


def severity_of(alert) -> str:
    """The `severity` label: the firing state, critical for nodata, else what pending heads for."""
    if alert.state in (AlertState.WARNING, AlertState.CRITICAL):
        return str(alert.state)
    if alert.state == AlertState.NODATA:
        return str(Severity.CRITICAL)
    return alert.pending_severity or str(Severity.WARNING)


def base_labels(rule, series_labels: dict | None, host: str, metric: str) -> dict[str, str]:
    """rule.labels + series labels + alertname/host/metric, as stored on Alert.labels at creation."""
    labels: dict[str, str] = {str(k): str(v) for k, v in (rule.labels or {}).items()}
    labels.update({str(k): str(v) for k, v in (series_labels or {}).items()})
    labels.update({"alertname": rule.name, "host": host or "", "metric": metric or ""})
    return labels


def alert_labels(alert) -> dict[str, str]:
    """Alert.labels plus the derived `severity` label (state warning/critical; nodata -> critical)."""
    labels = {str(k): str(v) for k, v in (alert.labels or {}).items()}
    labels["severity"] = severity_of(alert)
    return labels


class _Keep(dict):
    """format_map's mapping: an unknown {key} stays as written instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class _Value(float):
    """A value that prints short by default ({value} -> 91.23) but honours {value:.1f}."""

    def __format__(self, spec: str) -> str:
        if spec:
            return format(float(self), spec)
        rounded = round(float(self), 2)
        return str(int(rounded)) if rounded.is_integer() and abs(rounded) < 1e15 else str(rounded)

    __str__ = __repr__ = lambda self: format(self, "")  # noqa: E731


_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}")
_NESTED = re.compile(r"\{[^{}]*:[^{}]*\{")
# The largest width or precision a summary's format spec may ask for (a summary is cut at 1,000 characters).
MAX_SPEC = 100


def _substitute(template: str, values: dict) -> str:
    """The fallback when format_map refuses the template (stray brace, {0}, {a.b}): fill known fields only."""

    def one(match: re.Match) -> str:
        key, spec = match.group(1), match.group(2) or ""
        if key not in values:
            return match.group(0)
        try:
            return format(values[key], spec)
        except (ValueError, TypeError):
            return format(values[key], "")

    return _FIELD.sub(one, template)


def render_summary(rule, alert) -> str:
    """The alert's one line from rule.summary ({host}, {value}, {threshold}, {window}, ... and labels); never raises."""
    severity = severity_of(alert)
    threshold = rule.critical if severity == Severity.CRITICAL and rule.critical is not None else rule.warning
    values: dict[str, Any] = dict(alert_labels(alert))
    values.update(
        host=alert.host or "",
        value="no data" if alert.value is None else _Value(alert.value),
        metric=(alert.labels or {}).get("metric", ""),
        name=alert.series_name or rule.name,
        severity=severity,
        threshold="" if threshold is None else _Value(threshold),
        rule=rule.name,
        state=str(alert.state),
        window=rule.window,
    )
    template = bounded(rule.summary or default_summary(rule))
    try:
        if _NESTED.search(template):  # {value:{x}}: a width taken from a label an agent sent
            raise ValueError(template)
        text = template.format_map(_Keep(values))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError, OverflowError, MemoryError):
        text = _substitute(template, values)
    return text[:1000]


def bounded(template: str) -> str:
    """`template` with every format spec asking for a width or precision above MAX_SPEC dropped:
    {value:>4611686018427387904} asked for exabytes, and its MemoryError stopped every rule's evaluation."""

    def one(match: re.Match) -> str:
        spec = match.group(2)
        if spec and any(int(n) > MAX_SPEC for n in re.findall(r"\d+", spec)):
            return "{" + match.group(1) + "}"
        return match.group(0)

    return _FIELD.sub(one, template)


def oversized_specs(template: str) -> bool:
    """Whether `bounded` would change `template`, or it takes a spec from another field (for validation)."""
    return bounded(template) != template or _NESTED.search(template) is not None


def default_summary(rule) -> str:
    """What an alert says when its rule has no summary template."""
    return "{rule}: {name} on {host} is {value}"


__all__ = ["alert_labels", "base_labels", "default_summary", "render_summary", "severity_of"]
