from django.db import models
from django.utils import timezone


class Resource(models.Model):
    """One sample of one metric: what was measured, where, when, and its value."""

    name = models.CharField(max_length=200)
    value = models.FloatField()
    description = models.TextField(blank=True, default="")
    # A client may send its own time for samples it buffered; otherwise "now".
    timestamp = models.DateTimeField(default=timezone.now)
    host = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        indexes = [
            # "one metric (on one host) over a time range": series, latest, filters.
            # `value` makes it covering, so a series never touches the table rows.
            models.Index(fields=["name", "host", "timestamp", "value"], name="resource_series"),
            # "the newest rows" and keyset paging; InnoDB appends the id to it.
            models.Index(fields=["timestamp", "id"], name="resource_ts_id"),
        ]

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
