"""What health and application status say about alerts: cheap reads (one GROUP BY, one short list)."""

from __future__ import annotations

from django.db.models import Count

from .models import Alert, AlertState

STATES = [state.value for state in AlertState]


def alert_counts() -> dict[str, int]:
    """Alerts by state, every state present (0 when none): one GROUP BY over the (state, host) index."""
    counts = dict.fromkeys(STATES, 0)
    for state, count in Alert.objects.order_by().values_list("state").annotate(n=Count("id")):
        if state in counts:
            counts[state] = count
    return counts


def firing_critical(limit: int) -> dict:
    """The firing critical alerts (critical and nodata): how many, and the oldest few."""
    firing = Alert.objects.filter(state__in=[AlertState.CRITICAL, AlertState.NODATA])
    first = list(firing.select_related("rule").order_by("firing_since", "id")[:limit] if limit else [])
    return {
        "count": firing.count() if len(first) == limit else len(first),
        "alerts": [
            {"rule": a.rule.name, "host": a.host, "summary": a.summary, "since": a.firing_since or a.changed_at}
            for a in first
        ],
    }
