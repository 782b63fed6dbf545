"""The periodic schedule, in one place: what beat sends and how often."""


def beat_schedule(interval_seconds: int) -> dict:
    """Beat entries for every collector, each every `interval_seconds`.

    `expires` drops a cycle that no worker picked up before the next one is
    due, so a backlog never builds up while workers are away.
    """
    every = float(interval_seconds)
    return {
        "collect-host-metrics": {
            "task": "monitor.tasks.collect_host_metrics",
            "schedule": every,
            "options": {"expires": every},
        },
        "collect-server-status": {
            "task": "monitor.tasks.collect_server_status",
            "schedule": every,
            "options": {"expires": every},
        },
        # Hourly keeps each run short; batches keep each lock short.
        "prune-old-resources": {
            "task": "monitor.tasks.prune_old_resources",
            "schedule": 3600.0,
            "options": {"expires": 3600.0},
        },
    }
