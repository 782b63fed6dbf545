"""The periodic schedule, in one place: what beat sends and how often."""

COLLECT_HOST = "monitor.collection.tasks.collect_host_metrics"
COLLECT_SERVERS = "monitor.collection.tasks.collect_server_status"
PRUNE = "monitor.collection.tasks.prune_old_resources"
FOLD = "monitor.collection.tasks.fold_rollups"
SCRAPE = "monitor.collection.tasks.scrape_targets"
EVALUATE_ALERTS = "monitor.alerts.tasks.evaluate_rules"
PLAN_NOTIFICATIONS = "monitor.alerts.delivery_tasks.plan_notifications"
SEND_NOTIFICATIONS = "monitor.alerts.delivery_tasks.send_notifications"
# One collection cycle: every worker's host (broadcast), plus servers and queue (once).
COLLECTION_TASKS = (COLLECT_HOST, COLLECT_SERVERS)


def beat_schedule(
    interval_seconds: int,
    server_interval_seconds: int | None = None,
    scrape_interval_seconds: int | None = None,
    alerts_interval_seconds: int | None = None,
    notify_interval_seconds: int = 10,
    fold_interval_seconds: int = 60,
    host_broadcast: bool = True,
) -> dict:
    """Beat entries: host metrics every `interval_seconds`, server and queue
    status every `server_interval_seconds` (default: the same), and the
    exporters of SCRAPE_TARGETS every `scrape_interval_seconds` (None: no targets, no entry),
    and the alert rules every `alerts_interval_seconds` (None: no entry).
    Notifications are planned and sent every `notify_interval_seconds`
    (monitor/alerts/delivery_tasks.py). The minute and hour rollups are folded
    every `fold_interval_seconds` (monitor/storage/folding.py). Without
    `host_broadcast` there is no host entry: each worker samples its host on
    its own timer (monitor/collection/host_timer.py).

    `expires` drops a cycle no worker picked up within three intervals, so a
    backlog never builds up while workers are away (one interval is too tight:
    a busy machine or the polling filesystem broker can deliver a little late).
    """
    every = float(interval_seconds)
    servers_every = float(server_interval_seconds or interval_seconds)
    schedule = {
        "collect-server-status": {
            "task": COLLECT_SERVERS,
            "schedule": servers_every,
            "options": {"expires": 3 * servers_every},
        },
        # Hourly keeps each run short; batches keep each lock short.
        "prune-old-resources": {"task": PRUNE, "schedule": 3600.0, "options": {"expires": 3600.0}},
        # A late fold is caught up by the next one: expire after two intervals.
        "fold-rollups": {
            "task": FOLD,
            "schedule": float(fold_interval_seconds),
            "options": {"expires": 2.0 * fold_interval_seconds},
        },
    }
    if host_broadcast:
        schedule["collect-host-metrics"] = {"task": COLLECT_HOST, "schedule": every, "options": {"expires": 3 * every}}
    schedule.update(notification_schedule(notify_interval_seconds))
    if scrape_interval_seconds:
        scrape_every = float(scrape_interval_seconds)
        schedule["scrape-targets"] = {
            "task": SCRAPE,
            "schedule": scrape_every,
            "options": {"expires": 3 * scrape_every},
        }
    if alerts_interval_seconds:
        alerts_every = float(alerts_interval_seconds)
        # A late evaluation is superseded by the next one: expire after two intervals, not three.
        schedule["evaluate-alert-rules"] = {
            "task": EVALUATE_ALERTS,
            "schedule": alerts_every,
            "options": {"expires": 2 * alerts_every},
        }
    return schedule


def notification_schedule(every_seconds: int) -> dict:
    """Plan and send each tick; a tick no worker ran within three intervals is dropped (as a collection cycle).

    Running a late tick is harmless (both are reconciliations, and a message is
    claimed once), so the expiry only keeps a backlog from building up.
    """
    every = float(every_seconds)
    options = {"expires": 3 * every}
    return {
        "plan-notifications": {"task": PLAN_NOTIFICATIONS, "schedule": every, "options": options},
        "send-notifications": {"task": SEND_NOTIFICATIONS, "schedule": every, "options": dict(options)},
    }
