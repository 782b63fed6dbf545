"""The dashboard's alert block (settings.DASHBOARD_ALERTS): firing alerts as AlertRow dicts, most severe first."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from .labels import severity_of
from .models import FIRING_STATES, Alert

SEVERITY_ORDER = {"critical": 0, "warning": 1}


def _host_url(host: str) -> str:
    if not host:
        return ""
    try:
        return reverse("dashboard:host", args=[host])
    except NoReverseMatch:  # a host name the URL pattern does not take
        return ""


def active_alerts(host: str | None = None) -> list[dict]:
    """Firing alerts (warning, critical, nodata), critical first then oldest first; only `host`'s if given."""
    alerts = Alert.objects.filter(state__in=FIRING_STATES).select_related("rule")
    if host is not None:
        alerts = alerts.filter(host=host)
    rows = [
        {
            "name": alert.rule.name,
            "severity": severity_of(alert),
            "host": alert.host,
            "summary": alert.summary,
            "since": alert.firing_since or alert.changed_at,
            "url": _host_url(alert.host),
        }
        for alert in alerts
    ]
    return sorted(rows, key=lambda row: (SEVERITY_ORDER.get(row["severity"], 9), row["since"], row["host"]))
