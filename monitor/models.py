from datetime import timedelta

from django.db import models
from django.utils import timezone


class SeriesQuerySet(models.QuerySet):
    """The catalog's reads: which series match the API's filters, and their latest values."""

    def matching(self, name: str | None = None, name_prefix: str | None = None, host: str | None = None):
        from .storage.queries import select_series

        return select_series(name, name_prefix, host) & self

    def latest_rows(self, limit: int | None = None) -> list:
        """The newest sample of each series here (monitor.storage.queries.Row), without reading samples.

        More than `limit` series raise monitor.storage.queries.TooManySeries.
        """
        from .storage.queries import resource_latest

        return resource_latest(self, limit)


class SampleQuerySet(models.QuerySet):
    """Writes and reads of samples; the work is in monitor/storage, one module per concern."""

    def store(self, points) -> list[tuple[int, int]]:
        """Store points (storage.inserts.Point) with their series, rollups and latest values, all or nothing."""
        from .storage.inserts import store

        return store(points)

    def series(self, query) -> list[tuple[int, float]]:
        """One aggregated point per step (storage.queries.SeriesQuery), from the coarsest rollup that fits."""
        from .storage.queries import resource_series

        return resource_series(query)

    def prune(self, **options) -> list:
        """Drop what each tier keeps past its retention (storage.retention.prune)."""
        from .storage.retention import prune

        return prune(**options)


class Series(models.Model):
    """One metric of one host with its labels: the catalog every read starts from.

    `name` is what the API shows (`disk.used_percent:/`); `metric` and `labels`
    are the same thing split the way Prometheus sees it (`disk.used_percent`,
    `{"mount": "/"}`; monitor/storage/names.py). `key` makes (host, name) unique
    whatever their length. Latest values live with the rollups (step 0), so
    writing a sample never rewrites this row.
    """

    # INT, not BIGINT: every sample row repeats it (monitor/storage: bytes per sample).
    id = models.AutoField(primary_key=True)
    key = models.CharField(max_length=40, unique=True, editable=False)
    name = models.CharField(max_length=1000)
    metric = models.CharField(max_length=255)
    host = models.CharField(max_length=255, blank=True, default="")
    labels = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True, default="")
    unit = models.CharField(max_length=32, blank=True, default="")
    first_seen = models.DateTimeField(default=timezone.now)

    objects = SeriesQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "series"
        indexes = [
            # latest/hosts/filters narrow by host, then metric; name_prefix by metric.
            models.Index(fields=["host", "metric"], name="series_host_metric"),
            models.Index(fields=["metric"], name="series_metric"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.host}" if self.host else self.name


class Sample(models.Model):
    """One raw sample: (series, instant, value), nothing else.

    Keyed for "one series over a time range". 20 bytes of payload; on MySQL the
    table is compressed and partitioned by day (monitor/storage/partitions.py).
    """

    pk = models.CompositePrimaryKey("series_id", "ts")
    series = models.ForeignKey(
        Series, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    ts = models.BigIntegerField(help_text="microseconds since 1970-01-01 UTC")
    value = models.FloatField()

    objects = SampleQuerySet.as_manager()


class Rollup(models.Model):
    """count, sum, min, max and last of a series over one bucket, kept up to date as samples arrive.

    One table for every tier so that a write folds its samples into all of
    them with one statement: `step` 60 (per-minute) and 3600 (per-hour)
    buckets, and `step` 0, bucket 0: the series' latest value (`last` at
    `last_ts`; its count, sum, min and max are those of the newest write).
    """

    LATEST = 0
    MINUTE = 60
    HOUR = 3600

    pk = models.CompositePrimaryKey("series_id", "step", "bucket")
    series = models.ForeignKey(
        Series, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    step = models.PositiveSmallIntegerField(help_text="bucket length in seconds; 0: the latest value")
    bucket = models.BigIntegerField(help_text="start of the bucket, seconds since 1970-01-01 UTC")
    count = models.PositiveIntegerField()
    sum = models.FloatField()
    min = models.FloatField()
    max = models.FloatField()
    last = models.FloatField()
    last_ts = models.BigIntegerField(help_text="microseconds since 1970-01-01 UTC of `last`")


class FoldWatermark(models.Model):
    """Up to where the minute and hour rollups hold every raw sample: one row (id 1).

    Below `until_us` the tiers are complete; samples at or past it are folded
    in later, a minute at a time, by monitor/storage/folding.py, and reads take
    them from the raw samples meanwhile. NULL: every write folds its own samples
    (SQLite, and MySQL until the folder first runs).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    until_us = models.BigIntegerField(null=True, help_text="microseconds since 1970-01-01 UTC; NULL: folded inline")


class Resource(models.Model):
    """The samples as the notes' table showed them: a read-only database view of samples joined with series.

    Kept for SQL users, ad-hoc ORM queries and the admin; the API reads and
    writes through monitor/storage, which knows the keys. `id` is
    "<series id>-<microseconds>".
    """

    id = models.CharField(primary_key=True, max_length=40)
    name = models.CharField(max_length=1000)
    value = models.FloatField()
    description = models.TextField()
    timestamp = models.DateTimeField()
    host = models.CharField(max_length=255)

    class Meta:
        managed = False
        db_table = "monitor_resource"

    def __str__(self) -> str:
        return self.name


class LegacyUser(models.Model):
    """A table made outside Django (sql/legacy_user.sql), reflected with `inspectdb user`.

    managed = False: Django reads and writes rows but never creates, alters or
    drops the table; migrations leave it alone. The admin hides it where the
    table does not exist (e.g. the embedded SQLite database).
    """

    id = models.AutoField(primary_key=True)
    name = models.CharField(max_length=100)
    email = models.CharField(unique=True, max_length=254)
    created_at = models.DateTimeField(blank=True, null=True)

    class Meta:
        managed = False
        db_table = "user"
        verbose_name = "legacy user"

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class Host(models.Model):
    """A machine a worker collects from, with when it last reported.

    Kept up to date by each collection cycle (one upsert), so listing hosts
    never scans the samples table.
    """

    name = models.CharField(max_length=255, unique=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A key an agent or frontend sends as `Authorization: Token <key>`.

    Only a SHA-256 of the key is stored: a leaked database does not leak keys.
    `read` tokens may only read; `write` tokens may read and write.
    """

    READ = "read"
    WRITE = "write"
    SCOPES = [(READ, "read-only"), (WRITE, "read-write")]

    name = models.CharField(max_length=100, help_text="who or what uses it, e.g. agent on db-1")
    scope = models.CharField(max_length=5, choices=SCOPES, default=READ)
    prefix = models.CharField(max_length=12, editable=False, help_text="first characters of the key, to recognise it")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"  # the admin would otherwise title-case it "Api tokens"

    def __str__(self) -> str:
        return f"{self.name} ({self.scope}, {self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.is_active and self.scope == self.WRITE


class CollectionCycleQuerySet(models.QuerySet):
    def stored_since(self, since) -> "CollectionCycleQuerySet":
        """The cycles workers stored at or after `since`.

        Only workers write cycles: a host that pushes its samples through the API
        (or remote_write, line protocol) is seen in Host.last_seen but never here,
        so these say whether workers run, which Host alone cannot.
        """
        return self.filter(stored_at__gte=since)

    def worker_hosts(self, since) -> list[str]:
        """The hosts whose worker stored a collection cycle at or after `since`."""
        return sorted(set(self.stored_since(since).values_list("host", flat=True)))


class CollectionCycle(models.Model):
    """One stored collection cycle, keyed by the task that produced it.

    Tasks are acknowledged late, so a worker that dies after storing a cycle
    but before acknowledging gets its task redelivered; this key makes the
    second delivery store nothing.
    """

    task_id = models.CharField(max_length=64)
    host = models.CharField(max_length=255, blank=True, default="")
    stored_at = models.DateTimeField(default=timezone.now)
    rows = models.PositiveIntegerField(default=0)

    objects = CollectionCycleQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task_id", "host"], name="cycle_once_per_host")]
        # Retention deletes the oldest markers a batch at a time (monitor/storage/retention.py).
        indexes = [models.Index(fields=["stored_at"], name="cycle_stored_at")]


class CounterState(models.Model):
    """The counter readings of one source's last stored cycle: what its next rates are computed from.

    A source is a host (`host`, its MONITOR_HOSTNAME), a monitored server
    (`mysql`/`redis`, its `host:port`) or the workers' task totals (`celery`).
    Any pool process of any worker may take the next cycle, so the readings
    live here rather than in a process; a cycle locks its sources' rows, reads,
    and writes its readings in the transaction that stores its samples
    (monitor/storage/counters.py), so each rate spans exactly one stored cycle.
    """

    source = models.CharField(max_length=16)
    key = models.CharField(max_length=255)
    # counter name -> [value, seconds since the epoch on the clock that read it]
    readings = models.JSONField(default=dict)
    # The timestamp of the stored cycle these readings belong to.
    taken_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "key"], name="counter_state_per_source")]

    def __str__(self) -> str:
        return f"{self.source} {self.key}"


class QueueReportManager(models.Manager):
    def record(self, reported_at, workers: dict[str, dict[str, int]], broker: dict) -> None:
        """Replace the report with this one: one UPDATE a cycle (an INSERT the first time)."""
        fields = {"reported_at": reported_at, "workers": workers, "broker": broker}
        if not self.filter(pk=QueueReport.ONLY).update(**fields):
            # Two first cycles at once: the second INSERT is ignored, its report is one cycle old.
            self.bulk_create([QueueReport(pk=QueueReport.ONLY, **fields)], ignore_conflicts=True)

    def newer_than(self, max_age: float) -> "QueueReport | None":
        """The report if a probe wrote it within `max_age` seconds, else None."""
        cutoff = timezone.now() - timedelta(seconds=max_age)
        return self.filter(pk=QueueReport.ONLY, reported_at__gte=cutoff).first()


class QueueReport(models.Model):
    """What the workers and the broker told the queue probe in its latest cycle: one row, rewritten each cycle.

    Every server-status cycle asks each worker for its task counts anyway
    (monitor/collection/queue_probe.py); keeping the answers here lets
    /monitor/application/ answer in one query instead of asking every worker
    itself and listening out a broadcast window per request.
    """

    ONLY = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=ONLY)
    reported_at = models.DateTimeField(help_text="when the workers' answers were gathered")
    # {worker name: {"active": n, "reserved": n, "scheduled": n}}, every worker that answered.
    workers = models.JSONField(default=dict)
    # {"state": "ok", "latency_ms": n}, or {"state": "timeout" | "unreachable", "error": "..."}.
    broker = models.JSONField(default=dict)

    objects = QueueReportManager()

    def __str__(self) -> str:
        return f"queue report of {self.reported_at:%Y-%m-%d %H:%M:%S}"


# Alerting's tables live with alerting (monitor/alerts/models.py); importing them here
# makes them models of this app.
from .alerts.models import (  # noqa: E402, F401
    Alert,
    AlertEvent,
    AlertRule,
    Channel,
    Notification,
    NotificationGroup,
    Silence,
)
