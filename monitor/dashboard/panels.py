"""What the dashboard shows, derived from the series catalog: sections of charts, the fleet's rows, alerts.

Charts are built from the `Series` rows of a host (or of a server across hosts):
known metric families get hand-made charts (CPU by mode, one chart per
filesystem, per disk, per interface, per MySQL/Redis server, ...), and every
other metric gets a chart of its own with one line per label set, so a metric a
Prometheus agent pushes is charted without anyone writing code for it. A chart
is a list of lines, each a (name, host) the batch endpoint answers.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from monitor.models import Host, Series
from monitor.storage.instants import from_us
from monitor.storage.names import parse

# Lines per generic chart: a metric with more label sets shows the first ones and says how many there are.
MAX_LINES = 12
# Names listed by the explorer at once; a larger catalog is searched on the server (?q=).
EXPLORER_NAMES = 5000


@dataclass
class Line:
    label: str
    name: str
    host: str | None  # None: every host together (a server collected by whichever worker took the cycle)
    aggregate: str = "avg"


@dataclass
class Chart:
    id: str
    title: str
    unit: str
    lines: list[Line]
    stacked: bool = False
    percent: bool = False  # a 0-100 scale
    hidden_lines: int = 0  # label sets left out beyond MAX_LINES
    more_query: str = ""  # the explorer's query string for those left out (the "+N" link)


@dataclass
class Section:
    id: str
    title: str
    charts: list[Chart] = field(default_factory=list)


@dataclass(frozen=True)
class Template:
    """A hand-made chart of a known family: which metrics it draws, how, and per which label value."""

    key: str
    title: object  # lazy text; may use %(value)s, the `per` label's value
    metrics: tuple[tuple[str, object], ...]  # (metric, legend label)
    unit: str
    per: str | None = None
    stacked: bool = False
    percent: bool = False


def _t(key, title, metrics, unit, **options) -> Template:
    return Template(key, title, tuple(metrics), unit, **options)


TEMPLATES: dict[str, list[Template]] = {
    "cpu": [
        _t(
            "cpu.modes",
            _("CPU by mode"),
            [
                ("cpu.user_percent", _("user")),
                ("cpu.system_percent", _("system")),
                ("cpu.iowait_percent", _("iowait")),
                ("cpu.steal_percent", _("steal")),
            ],
            "%",
            stacked=True,
            percent=True,
        ),
        _t("cpu.busy", _("CPU busy"), [("cpu.percent", _("busy"))], "%", percent=True),
    ],
    "load": [_t("load", _("Load average"), [("load.1m", "1m"), ("load.5m", "5m"), ("load.15m", "15m")], "load")],
    "memory": [
        _t(
            "memory.bytes",
            _("Memory"),
            [
                ("memory.used_bytes", _("used")),
                ("memory.available_bytes", _("available")),
                ("memory.total_bytes", _("total")),
            ],
            "bytes",
        ),
        _t("memory.percent", _("Memory in use"), [("memory.used_percent", _("used"))], "%", percent=True),
    ],
    "swap": [
        _t("swap.bytes", _("Swap"), [("swap.used_bytes", _("used")), ("swap.total_bytes", _("total"))], "bytes"),
        _t("swap.percent", _("Swap in use"), [("swap.used_percent", _("used"))], "%", percent=True),
        _t(
            "swap.io",
            _("Swapping"),
            [("swap.in_bytes_per_second", _("in")), ("swap.out_bytes_per_second", _("out"))],
            "bytes/s",
        ),
    ],
    "disk": [
        _t(
            "disk.use",
            _("Filesystem %(value)s"),
            [("disk.used_percent", _("space")), ("disk.inodes_used_percent", _("inodes"))],
            "%",
            per="mount",
            percent=True,
        ),
        _t(
            "disk.bytes",
            _("Filesystem %(value)s size"),
            [("disk.used_bytes", _("used")), ("disk.free_bytes", _("free")), ("disk.total_bytes", _("total"))],
            "bytes",
            per="mount",
        ),
    ],
    "diskio": [
        _t(
            "diskio.bytes",
            _("Disk %(value)s throughput"),
            [("diskio.read_bytes_per_second", _("read")), ("diskio.write_bytes_per_second", _("write"))],
            "bytes/s",
            per="device",
        ),
        _t(
            "diskio.ops",
            _("Disk %(value)s operations"),
            [("diskio.read_ops_per_second", _("read")), ("diskio.write_ops_per_second", _("write"))],
            "/s",
            per="device",
        ),
        _t(
            "diskio.busy",
            _("Disk %(value)s busy"),
            [("diskio.busy_percent", _("busy"))],
            "%",
            per="device",
            percent=True,
        ),
    ],
    "net": [
        _t(
            "net.bytes",
            _("Network %(value)s traffic"),
            [("net.rx_bytes_per_second", _("received")), ("net.tx_bytes_per_second", _("sent"))],
            "bytes/s",
            per="interface",
        ),
        _t(
            "net.packets",
            _("Network %(value)s packets"),
            [("net.rx_packets_per_second", _("received")), ("net.tx_packets_per_second", _("sent"))],
            "/s",
            per="interface",
        ),
        _t(
            "net.errors",
            _("Network %(value)s errors and drops"),
            [
                ("net.rx_errors_per_second", _("receive errors")),
                ("net.tx_errors_per_second", _("send errors")),
                ("net.rx_drops_per_second", _("receive drops")),
                ("net.tx_drops_per_second", _("send drops")),
            ],
            "/s",
            per="interface",
        ),
    ],
    "processes": [
        _t(
            "processes",
            _("Processes"),
            [("processes.total", _("all")), ("processes.running", _("running")), ("processes.blocked", _("blocked"))],
            "",
        )
    ],
    "system": [
        _t(
            "system.ctx",
            _("Context switches"),
            [("system.context_switches_per_second", _("switches"))],
            "/s",
        ),
        _t("system.uptime", _("Uptime"), [("system.uptime_seconds", _("uptime"))], "s"),
    ],
    "mysql": [
        _t("mysql.up", _("MySQL %(value)s up"), [("mysql.up", _("up"))], "up", per="server"),
        _t(
            "mysql.connections",
            _("MySQL %(value)s connections"),
            [
                ("mysql.threads_connected", _("connected")),
                ("mysql.threads_running", _("running")),
                ("mysql.max_connections", _("limit")),
            ],
            "",
            per="server",
        ),
        _t(
            "mysql.connections_percent",
            _("MySQL %(value)s connections used"),
            [("mysql.connections_used_percent", _("used"))],
            "%",
            per="server",
            percent=True,
        ),
        _t(
            "mysql.qps",
            _("MySQL %(value)s queries"),
            [("mysql.queries_per_second", _("queries")), ("mysql.slow_queries_per_second", _("slow queries"))],
            "/s",
            per="server",
        ),
        _t(
            "mysql.buffer_pool",
            _("MySQL %(value)s buffer pool"),
            [
                ("mysql.buffer_pool_hit_ratio", _("hit ratio")),
                ("mysql.buffer_pool_pages_used_percent", _("pages used")),
            ],
            "%",
            per="server",
            percent=True,
        ),
        _t(
            "mysql.rows",
            _("MySQL %(value)s rows"),
            [
                ("mysql.innodb_rows_read_per_second", _("read")),
                ("mysql.innodb_rows_inserted_per_second", _("inserted")),
                ("mysql.innodb_rows_updated_per_second", _("updated")),
                ("mysql.innodb_rows_deleted_per_second", _("deleted")),
            ],
            "/s",
            per="server",
        ),
        _t(
            "mysql.network",
            _("MySQL %(value)s network"),
            [("mysql.bytes_received_per_second", _("received")), ("mysql.bytes_sent_per_second", _("sent"))],
            "bytes/s",
            per="server",
        ),
        _t(
            "mysql.aborted",
            _("MySQL %(value)s failed connections"),
            [
                ("mysql.aborted_connects_per_second", _("aborted connects")),
                ("mysql.aborted_clients_per_second", _("aborted clients")),
                ("mysql.created_tmp_disk_tables_per_second", _("temporary tables on disk")),
            ],
            "/s",
            per="server",
        ),
        _t(
            "mysql.replication",
            _("MySQL %(value)s replication lag"),
            [("mysql.replication_lag_seconds", _("lag"))],
            "s",
            per="server",
        ),
        _t(
            "mysql.replication_threads",
            _("MySQL %(value)s replication threads"),
            [("mysql.replication_io_running", _("I/O thread")), ("mysql.replication_sql_running", _("SQL thread"))],
            "up",
            per="server",
        ),
    ],
    "redis": [
        _t("redis.up", _("Redis %(value)s up"), [("redis.up", _("up"))], "up", per="server"),
        _t(
            "redis.memory",
            _("Redis %(value)s memory"),
            [("redis.used_memory_bytes", _("used")), ("redis.used_memory_rss_bytes", _("resident"))],
            "bytes",
            per="server",
        ),
        _t(
            "redis.ops",
            _("Redis %(value)s operations"),
            [("redis.ops_per_second", _("operations")), ("redis.commands_per_second", _("commands"))],
            "/s",
            per="server",
        ),
        _t(
            "redis.hits",
            _("Redis %(value)s hit ratio"),
            [("redis.keyspace_hit_ratio", _("hits"))],
            "%",
            per="server",
            percent=True,
        ),
        _t(
            "redis.clients",
            _("Redis %(value)s clients"),
            [("redis.connected_clients", _("connected")), ("redis.blocked_clients", _("blocked"))],
            "",
            per="server",
        ),
        _t(
            "redis.keys",
            _("Redis %(value)s keys removed"),
            [("redis.evicted_keys_per_second", _("evicted")), ("redis.expired_keys_per_second", _("expired"))],
            "/s",
            per="server",
        ),
    ],
    "celery": [
        _t("celery.queue", _("Queue %(value)s length"), [("celery.queue_length", _("waiting"))], "", per="queue"),
        _t(
            "celery.workers",
            _("Workers and broker"),
            [("celery.workers_online", _("workers online")), ("celery.broker_up", _("broker up"))],
            "",
        ),
        _t(
            "celery.tasks",
            _("Tasks in progress"),
            [
                ("celery.tasks_active", _("active")),
                ("celery.tasks_reserved", _("reserved")),
                ("celery.tasks_scheduled", _("scheduled")),
            ],
            "",
        ),
        _t(
            "celery.done",
            _("Tasks finished"),
            [("celery.tasks_succeeded_per_minute", _("succeeded")), ("celery.tasks_failed_per_minute", _("failed"))],
            "/min",
        ),
    ],
}
FAMILY_TITLES = {
    "cpu": _("CPU"),
    "load": _("Load"),
    "memory": _("Memory"),
    "swap": _("Swap"),
    "disk": _("Filesystems"),
    "diskio": _("Disk I/O"),
    "net": _("Network"),
    "processes": _("Processes"),
    "system": _("System"),
    "mysql": _("MySQL"),
    "redis": _("Redis"),
    "celery": _("Celery"),
}
SERVER_KINDS = ("mysql", "redis", "celery")
# Constant figures a chart would only draw as a flat line (the fleet view shows cores beside the load).
NOT_CHARTED = {"cpu.count"}


@dataclass(frozen=True)
class CatalogRow:
    name: str
    metric: str
    labels: dict
    unit: str
    host: str


def catalog(host: str | None = None, family: str | None = None, server: str | None = None) -> list[CatalogRow]:
    """Series rows of one host, or of one server family (across hosts), in name order."""
    rows = Series.objects.all()
    if host is not None:
        rows = rows.filter(host=host)
    if family is not None:
        rows = rows.filter(metric__startswith=f"{family}.")
    found = [
        CatalogRow(name, metric, labels or {}, unit, row_host)
        for name, metric, labels, unit, row_host in rows.order_by("name", "host").values_list(
            "name", "metric", "labels", "unit", "host"
        )
    ]
    if server is not None:
        found = [row for row in found if row.labels.get("server") == server]
    return found


def family_of(metric: str) -> str:
    """`disk.used_percent` -> disk; a Prometheus name `node_cpu_seconds_total` -> node."""
    if "." in metric:
        return metric.split(".", 1)[0]
    return metric.split("_", 1)[0]


def unit_of(row: CatalogRow) -> str:
    """The catalog's unit, completed where a name says it in another way (cpu.percent, *_ratio in percent)."""
    if row.unit and row.unit != "ratio":
        return row.unit
    if row.metric.endswith(("percent", "_ratio")) and row.metric != "redis.mem_fragmentation_ratio":
        return "%"
    if row.metric.endswith(".up") or row.metric.endswith("_up"):
        return "up"
    return row.unit if row.unit != "ratio" else ""


def sections(rows: Iterable[CatalogRow], host: str | None) -> list[Section]:
    """The charts for these series, in family order; `host` None draws each name across every host."""
    rows = list({row.name: row for row in rows}.values()) if host is None else list(rows)
    by_metric: dict[str, list[CatalogRow]] = defaultdict(list)
    for row in rows:
        by_metric[row.metric].append(row)
    used: set[str] = {row.name for row in rows if row.metric in NOT_CHARTED}
    found: dict[str, Section] = {}
    for family, templates in TEMPLATES.items():
        for template in templates:
            for chart in _template_charts(template, by_metric, host):
                section = found.setdefault(family, Section(family, str(FAMILY_TITLES[family])))
                section.charts.append(chart)
                used.update(line.name for line in chart.lines)
    generic: dict[str, list[CatalogRow]] = defaultdict(list)
    for row in rows:
        if row.name not in used:
            generic[row.metric].append(row)
    for metric in sorted(generic):
        family = family_of(metric)
        title = str(FAMILY_TITLES[family]) if family in FAMILY_TITLES else family
        section = found.setdefault(family, Section(family, title))
        section.charts.append(_generic_chart(metric, generic[metric], host))
    order = list(TEMPLATES)
    return sorted(found.values(), key=lambda s: (order.index(s.id) if s.id in order else len(order), s.id))


def _template_charts(template: Template, by_metric: dict[str, list[CatalogRow]], host: str | None) -> list[Chart]:
    groups: dict[str, list[Line]] = defaultdict(list)
    for metric, label in template.metrics:
        for row in by_metric.get(metric, []):
            value = row.labels.get(template.per, "") if template.per else ""
            if template.per and not value:
                continue
            if not template.per and row.labels:
                continue
            groups[value].append(Line(str(label), row.name, host))
    charts = []
    for value in sorted(groups):
        title = str(template.title) % {"value": value} if template.per else str(template.title)
        chart_id = f"{template.key}:{value}" if value else template.key
        charts.append(Chart(chart_id, title, template.unit, groups[value], template.stacked, template.percent))
    return charts


def _generic_chart(metric: str, rows: list[CatalogRow], host: str | None) -> Chart:
    lines = [Line(_label_text(row.labels) or metric, row.name, host) for row in rows]
    unit = unit_of(rows[0])
    hidden = [line.name for line in lines[MAX_LINES:]][:MAX_LINES]  # as many as the explorer draws
    more = urlencode([*(("metric", name) for name in hidden), *((("host", host),) if host else ())])
    return Chart(
        f"metric:{metric}",
        metric,
        unit,
        lines[:MAX_LINES],
        percent=unit == "%",
        hidden_lines=max(0, len(lines) - MAX_LINES),
        more_query=more,
    )


def _label_text(labels: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(labels.items()))


def as_json(found: list[Section]) -> list[dict]:
    return [asdict(section) for section in found]


# --- the fleet --------------------------------------------------------------------------

FLEET_METRICS = ("cpu.percent", "memory.used_percent", "disk.used_percent", "load.1m", "cpu.count")
SERVER_UP = {"mysql": "mysql.up", "redis": "redis.up", "celery": "celery.broker_up"}
# A key figure drawn beside each server's state.
SERVER_FIGURE = {
    "mysql": ("mysql.queries_per_second", "/s"),
    "redis": ("redis.ops_per_second", "/s"),
    "celery": ("celery.queue_length:celery", ""),
}


@dataclass
class Figure:
    """One cell of the fleet table: the latest value and the series its sparkline draws."""

    value: float | None
    name: str | None
    host: str | None
    unit: str
    note: str = ""  # e.g. the fullest filesystem's mount point

    def line(self) -> dict | None:
        return None if self.name is None else {"name": self.name, "host": self.host}


@dataclass
class FleetHost:
    name: str
    last_seen: datetime
    seconds_ago: float
    stale: bool
    cpu: Figure
    memory: Figure
    disk: Figure
    load: Figure
    cores: float | None

    @property
    def score(self) -> float:
        """How bad it looks: stale first, then the fullest of CPU, memory, disk and load per core."""
        if self.stale:
            return 1000 + min(self.seconds_ago, 1e9) / 1e6
        load = self.load.value / self.cores * 100 if self.load.value is not None and self.cores else None
        figures = [v for v in (self.cpu.value, self.memory.value, self.disk.value, load) if v is not None]
        return max(figures, default=0.0)

    @property
    def level(self) -> str:
        """ok, warn (80 %+) or crit (95 %+ or stale)."""
        if self.stale:
            return "crit"
        score = self.score
        return "crit" if score >= 95 else "warn" if score >= 80 else "ok"


@dataclass
class FleetServer:
    kind: str
    server: str
    up: float | None
    last_seen: datetime | None
    stale: bool
    figure: Figure

    @property
    def title(self) -> str:
        return {"mysql": "MySQL", "redis": "Redis", "celery": _("Task queue")}[self.kind]

    @property
    def level(self) -> str:
        return "crit" if self.up != 1 or self.stale else "ok"


def fleet_hosts(now: datetime | None = None) -> list[FleetHost]:
    """Every host from the Host table with its latest figures, worst first (two queries)."""
    now = now or timezone.now()
    stale_after = timedelta(seconds=settings.HOST_STALE_AFTER)
    hosts = list(Host.objects.order_by("name"))
    latest: dict[str, dict[str, tuple[str, float]]] = defaultdict(dict)
    disks: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
    rows = Series.objects.filter(host__in=[host.name for host in hosts], metric__in=FLEET_METRICS).latest_rows()
    for row in rows:
        metric, labels = parse(row.name)
        if metric == "disk.used_percent":
            disks[row.host].append((row.value, labels.get("mount", ""), row.name))
        elif not labels:  # the host's own figure, not some labelled series of the same metric
            latest[row.host][metric] = (row.name, row.value)
    found = []
    for host in hosts:
        own = latest[host.name]

        def figure(metric: str, unit: str, own=own, host=host) -> Figure:
            name, value = own.get(metric, (None, None))
            return Figure(value, name, host.name if name else None, unit)

        fullest = max(disks[host.name], default=None)
        disk = Figure(fullest[0], fullest[2], host.name, "%", fullest[1]) if fullest else Figure(None, None, None, "%")
        cores = own.get("cpu.count", (None, None))[1]
        found.append(
            FleetHost(
                name=host.name,
                last_seen=host.last_seen,
                seconds_ago=(now - host.last_seen).total_seconds(),
                stale=now - host.last_seen > stale_after,
                cpu=figure("cpu.percent", "%"),
                memory=figure("memory.used_percent", "%"),
                disk=disk,
                load=_with_note(figure("load.1m", "load"), _("%(n)s cores") % {"n": f"{cores:g}"} if cores else ""),
                cores=cores,
            )
        )
    return sorted(found, key=lambda h: (-h.score, h.name))


def _with_note(figure: Figure, note: str) -> Figure:
    figure.note = note
    return figure


def fleet_servers(now: datetime | None = None) -> list[FleetServer]:
    """MySQL, Redis and the task queue as the collectors last saw them (whichever worker took the cycle)."""
    now = now or timezone.now()
    # Collected every SERVER_METRICS_INTERVAL: stale when hosts would be, or after three missed cycles.
    stale_after = timedelta(seconds=max(settings.HOST_STALE_AFTER, 3 * settings.SERVER_METRICS_INTERVAL))
    metrics = [*SERVER_UP.values(), *(figure.split(":", 1)[0] for figure, _unit in SERVER_FIGURE.values())]
    newest: dict[str, tuple[int, float]] = {}
    for row in Series.objects.filter(metric__in=metrics).latest_rows():
        if row.name not in newest or row.ts > newest[row.name][0]:
            newest[row.name] = (row.ts, row.value)
    found = []
    for kind, up_metric in SERVER_UP.items():
        for name in sorted(newest):
            metric, labels = parse(name)
            if metric != up_metric:
                continue
            server = labels.get("server", "")
            ts, up = newest[name]
            figure_metric, unit = SERVER_FIGURE[kind]
            figure_name = f"{figure_metric}:{server}" if kind != "celery" else figure_metric
            figure_value = newest.get(figure_name, (None, None))[1]
            seen = from_us(ts)
            found.append(
                FleetServer(
                    kind=kind,
                    server=server,
                    up=up,
                    last_seen=seen,
                    stale=now - seen > stale_after,
                    figure=Figure(figure_value, figure_name if figure_name in newest else None, None, unit),
                )
            )
    return sorted(found, key=lambda s: (s.level != "crit", s.kind, s.server))


# --- alerts -------------------------------------------------------------------------------


@dataclass
class AlertRow:
    """A firing alert as the fleet view lists it. The provider (DASHBOARD_ALERTS) returns these, or dicts
    with the same keys: `name` (rule), `severity` (critical, warning, info), `host` ("" for none),
    `summary` (one line for a person), `since` (aware datetime it started firing), `url` (optional link)."""

    name: str
    severity: str
    host: str
    summary: str
    since: datetime
    url: str = ""


def active_alerts(host: str | None = None) -> list[AlertRow]:
    """Firing alerts from the provider named by DASHBOARD_ALERTS; [] while there is none (no block is shown).

    The hook for monitor/alerts: a function `active_alerts()` that returns the firing
    alerts, most severe first. A provider that is missing returns nothing; one that
    fails is not hidden (the page would show a false all-clear). With `host`, only
    that host's alerts (the host page).
    """
    path = settings.DASHBOARD_ALERTS
    if not path:
        return []
    try:
        provider = import_string(path)
    except ImportError as exc:
        missing = getattr(exc, "name", None)
        if (missing and path.startswith(missing)) or "does not define" in str(exc):
            return []  # no alerting module, or it has no such function yet: no block
        raise
    rows = [row if isinstance(row, AlertRow) else AlertRow(**row) for row in provider()]
    return rows if host is None else [row for row in rows if row.host == host]
