"""The shipped alert rules (issue 14): created once, on the first migrate; edit or delete them freely.

Each rule's metric is one the collectors emit (tests/test_alert_default_rules.py
checks it against their real output). A rule whose name already exists (an
operator made one before migrating) is left as it is. Reversing removes nothing:
the rules may have been edited since.
"""

from django.conf import settings
from django.db import migrations

WARN_CLEAR_CRIT = ("warning", "warning_clear", "critical", "critical_clear")


def _levels(*values):
    return dict(zip(WARN_CLEAR_CRIT, values, strict=True))


def default_rules(metrics_interval: int) -> list[dict]:
    """The rules as field dicts; the host silence window follows the collection interval."""
    silent = max(60, 3 * metrics_interval)
    server = {"nodata": "ok"}  # another worker may collect a server's status: no data here is not an outage
    return [
        {
            "name": "host_not_reporting",
            "description": "The host's worker stored nothing: the machine, its worker or its network is down.",
            "metric": "cpu.count",
            "lookup": "last",
            "window": silent,
            "nodata": "alert",
            "inhibits_host": True,
            "summary": "{host} has not reported for over {window} s",
        },
        {
            "name": "disk_nearly_full",
            "metric": "disk.used_percent",
            **_levels(85, 80, 95, 90),
            "for_seconds": 120,
            "summary": "{mount} on {host} is {value}% full",
        },
        {
            "name": "inodes_nearly_full",
            "metric": "disk.inodes_used_percent",
            **_levels(85, 80, 95, 90),
            "for_seconds": 120,
            "summary": "{mount} on {host} has used {value}% of its inodes",
        },
        {
            "name": "memory_high",
            "metric": "memory.used_percent",
            **_levels(90, 85, 97, 93),
            "for_seconds": 120,
            "summary": "memory on {host} is {value}% used",
        },
        {
            "name": "swap_heavy",
            "metric": "swap.used_percent",
            "window": 600,
            **_levels(60, 50, 90, 80),
            "summary": "swap on {host} is {value}% used",
        },
        {
            "name": "cpu_sustained",
            "description": "CPU busy on average over ten minutes.",
            "metric": "cpu.percent",
            "window": 600,
            **_levels(90, 80, 98, 95),
            "summary": "CPU on {host} averaged {value}% over 10 min",
        },
        {
            "name": "load_per_cpu_high",
            "description": "5-minute load average per logical core (load.5m / cpu.count, computed by the collector).",
            "metric": "load.5m_per_cpu",
            "window": 600,
            **_levels(2, 1.5, 4, 3),
            "summary": "load on {host} is {value} per core",
        },
        {
            "name": "mysql_down",
            "metric": "mysql.up",
            "lookup": "last",
            "window": 120,
            "direction": "below",
            "critical": 0,
            "for_seconds": 60,
            **server,
            "summary": "MySQL {server} does not answer",
        },
        {
            "name": "mysql_connections_near_max",
            "metric": "mysql.connections_used_percent",
            **_levels(80, 70, 95, 90),
            **server,
            "summary": "MySQL {server} uses {value}% of max_connections",
        },
        {
            "name": "mysql_replication_lag",
            "metric": "mysql.replication_lag_seconds",
            **_levels(30, 10, 300, 120),
            **server,
            "summary": "MySQL replica {server} is {value} s behind",
        },
        {
            "name": "mysql_replication_stopped",
            "metric": "mysql.replication_sql_running",
            "lookup": "last",
            "window": 120,
            "direction": "below",
            "critical": 0,
            "for_seconds": 60,
            **server,
            "summary": "MySQL replica {server}: the SQL thread is not running",
        },
        {
            "name": "redis_down",
            "metric": "redis.up",
            "lookup": "last",
            "window": 120,
            "direction": "below",
            "critical": 0,
            "for_seconds": 60,
            **server,
            "summary": "Redis {server} does not answer",
        },
        {
            "name": "redis_memory_near_max",
            "metric": "redis.used_memory_percent",
            **_levels(80, 75, 95, 90),
            **server,
            "summary": "Redis {server} uses {value}% of maxmemory",
        },
        {
            "name": "celery_queue_backing_up",
            "metric": "celery.queue_length",
            **_levels(100, 50, 1000, 500),
            **server,
            "summary": "{value} messages waiting in {queue}",
        },
        {
            "name": "celery_no_worker",
            "description": "No worker answers remote control. With no worker at all nothing is collected:"
            " host_not_reporting fires for every host instead.",
            "metric": "celery.workers_online",
            "lookup": "max",
            "window": 120,
            "direction": "below",
            "critical": 0,
            **server,
            "summary": "no Celery worker answers",
        },
    ]


def create(apps, schema_editor):
    AlertRule = apps.get_model("monitor", "AlertRule")
    rules = default_rules(settings.METRICS_INTERVAL)
    existing = set(AlertRule.objects.filter(name__in=[r["name"] for r in rules]).values_list("name", flat=True))
    AlertRule.objects.bulk_create([AlertRule(**fields) for fields in rules if fields["name"] not in existing])


class Migration(migrations.Migration):
    dependencies = [("monitor", "0013_alerting")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
