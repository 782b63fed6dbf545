"""What makes a rule coherent, in one place for the API and the admin: thresholds, clear values, sides."""

from __future__ import annotations

from django.utils.translation import gettext as _

from .labels import MAX_SPEC, oversized_specs
from .models import AlertRule


def rule_problems(values: dict) -> dict[str, list[str]]:
    """{field: [messages]} for a rule's field values (a complete set: merge a partial update first)."""
    errors: dict[str, list[str]] = {}
    get = values.get
    if get("warning") is None and get("critical") is None and get("nodata", AlertRule.NoData.KEEP) != "alert":
        errors.setdefault("non_field_errors", []).append(
            _("Give a warning or a critical threshold, or nodata=alert (a rule that alerts on silence).")
        )
    below = get("direction", AlertRule.Direction.ABOVE) == AlertRule.Direction.BELOW
    for level in ("warning", "critical"):
        threshold, clear = get(level), get(f"{level}_clear")
        if clear is None:
            continue
        if threshold is None:
            errors.setdefault(f"{level}_clear", []).append(_("A clear value needs its threshold (%s).") % level)
        elif below and clear < threshold:
            errors.setdefault(f"{level}_clear", []).append(
                _("Alerting below %(t)s, it clears above: give a value >= %(t)s.") % {"t": threshold}
            )
        elif not below and clear > threshold:
            errors.setdefault(f"{level}_clear", []).append(
                _("Alerting above %(t)s, it clears below: give a value <= %(t)s.") % {"t": threshold}
            )
    warning, critical = get("warning"), get("critical")
    if warning is not None and critical is not None and (critical > warning if below else critical < warning):
        errors.setdefault("critical", []).append(
            _("critical must be past warning (below it).") if below else _("critical must be past warning (above it).")
        )
    metric = get("metric") or ""
    if not metric.strip() or "*" in metric[:-1] or metric != metric.strip():
        errors.setdefault("metric", []).append(
            _("A metric name (disk.used_percent), or a prefix ending in one * (mysql.*).")
        )
    window = get("window")
    if window is not None and window < MIN_WINDOW:
        errors.setdefault("window", []).append(_("At least %d seconds (one minute bucket).") % MIN_WINDOW)
    if oversized_specs(get("summary") or ""):
        errors.setdefault("summary", []).append(
            _("Format widths and precisions go up to %d, written in the field itself ({value:.1f}).") % MAX_SPEC
        )
    return errors


MIN_WINDOW = 60  # the minute tier's bucket: a shorter window reads only the latest value
