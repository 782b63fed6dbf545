"""Alerting's tables: rules, one alert per (rule, series), the event log, silences, channels, the outbox.

Imported by monitor/models.py so they belong to the `monitor` app. The states
and the flow (monitor/alerts/README in DESIGN terms):

    rule --evaluate--> Alert (ok, pending, warning, critical, nodata)
                         |-- every change --> AlertEvent (append-only, ?after=<id>)
                         '-- firing/resolved --> Notification rows (outbox), one per channel
                                                 and group (rule, host), sent by a task
"""

from django.db import models
from django.utils import timezone


class Severity(models.TextChoices):
    WARNING = "warning", "warning"
    CRITICAL = "critical", "critical"


class AlertState(models.TextChoices):
    OK = "ok", "ok"
    PENDING = "pending", "pending"
    WARNING = "warning", "warning"
    CRITICAL = "critical", "critical"
    NODATA = "nodata", "no data"


# The states that notify: an alert in one of these is "firing".
FIRING_STATES = (AlertState.WARNING, AlertState.CRITICAL, AlertState.NODATA)


class AlertRule(models.Model):
    """What to watch and when to speak up: a selector over the series catalog, a lookup, thresholds.

    Thresholds come in pairs: an alert enters warning at `warning` and leaves it
    only past `warning_clear` (hysteresis, so a value sitting on the line does
    not flap). `direction` says which side is bad. Times are seconds.
    """

    class Lookup(models.TextChoices):
        AVG = "avg", "average"
        MIN = "min", "minimum"
        MAX = "max", "maximum"
        LAST = "last", "last value"

    class Direction(models.TextChoices):
        ABOVE = "above", "alert when above"
        BELOW = "below", "alert when below"

    class NoData(models.TextChoices):
        OK = "ok", "ok: no data is fine"
        KEEP = "keep", "keep the last state"
        ALERT = "alert", "alert (nodata)"

    name = models.SlugField(max_length=100, unique=True, help_text="e.g. disk_nearly_full; the alertname label")
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True, default="")
    # selector
    metric = models.CharField(
        max_length=255,
        help_text="metric name (disk.used_percent), or a prefix ending in * (mysql.*)",
    )
    host_pattern = models.CharField(
        max_length=255, default="*", help_text="shell-style pattern over host names; * for every host"
    )
    match_labels = models.JSONField(
        default=dict, blank=True, help_text='series labels that must match, e.g. {"mount": "/"}; values may use *'
    )
    # lookup
    lookup = models.CharField(max_length=4, choices=Lookup.choices, default=Lookup.AVG)
    window = models.PositiveIntegerField(default=300, help_text="seconds the lookup reads back")
    direction = models.CharField(max_length=5, choices=Direction.choices, default=Direction.ABOVE)
    warning = models.FloatField(null=True, blank=True)
    warning_clear = models.FloatField(null=True, blank=True, help_text="leave warning past this; default: warning")
    critical = models.FloatField(null=True, blank=True)
    critical_clear = models.FloatField(null=True, blank=True, help_text="leave critical past this; default: critical")
    for_seconds = models.PositiveIntegerField(default=0, help_text="pending this long before firing")
    keep_firing_for = models.PositiveIntegerField(default=0, help_text="keep firing this long after it clears")
    nodata = models.CharField(max_length=5, choices=NoData.choices, default=NoData.KEEP)
    # what the alert says
    labels = models.JSONField(default=dict, blank=True, help_text="added to every alert of the rule")
    summary = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="one line; {host}, {value}, {metric}, {name}, {severity}, {threshold} and labels are filled in",
    )
    inhibits_host = models.BooleanField(
        default=False, help_text="while this rule fires for a host, that host's other alerts send nothing"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    """One rule applied to one series (or to a host, for host-level rules): its current state."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    series = models.ForeignKey(
        "monitor.Series", on_delete=models.SET_NULL, null=True, blank=True, db_constraint=False, related_name="+"
    )
    fingerprint = models.CharField(max_length=40, unique=True, help_text="sha1 of rule and series identity")
    host = models.CharField(max_length=255, blank=True, default="")
    series_name = models.CharField(max_length=1000, blank=True, default="")
    labels = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=8, choices=AlertState.choices, default=AlertState.OK)
    pending_severity = models.CharField(max_length=8, choices=Severity.choices, blank=True, default="")
    value = models.FloatField(null=True, blank=True)
    summary = models.CharField(max_length=1000, blank=True, default="")
    pending_since = models.DateTimeField(null=True, blank=True)
    firing_since = models.DateTimeField(null=True, blank=True)
    cleared_since = models.DateTimeField(null=True, blank=True, help_text="when it cleared while keep_firing_for")
    changed_at = models.DateTimeField(default=timezone.now)
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "host"], name="alert_state_host"),
            models.Index(fields=["host", "state"], name="alert_host_state"),
        ]

    def __str__(self) -> str:
        return f"{self.rule.name} @ {self.host or '-'}: {self.state}"

    @property
    def firing(self) -> bool:
        return self.state in FIRING_STATES


class AlertEvent(models.Model):
    """One state change, appended and never edited: the history a frontend follows with ?after=<id>."""

    id = models.BigAutoField(primary_key=True)
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    rule_name = models.CharField(max_length=100)
    host = models.CharField(max_length=255, blank=True, default="")
    series_name = models.CharField(max_length=1000, blank=True, default="")
    from_state = models.CharField(max_length=8, choices=AlertState.choices)
    to_state = models.CharField(max_length=8, choices=AlertState.choices)
    value = models.FloatField(null=True, blank=True)
    summary = models.CharField(max_length=1000, blank=True, default="")
    labels = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["host", "id"], name="alertevent_host_id")]

    def __str__(self) -> str:
        return f"#{self.id} {self.rule_name} @ {self.host or '-'}: {self.from_state} -> {self.to_state}"


class Silence(models.Model):
    """Alerts whose labels match every matcher send nothing between starts_at and ends_at.

    `matchers`: a list of {"name": label, "value": text, "regex": bool}; the labels
    of an alert are its rule's labels plus alertname, host, severity and the series' labels.
    """

    matchers = models.JSONField(default=list)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    created_by = models.CharField(max_length=150)
    comment = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["ends_at"], name="silence_ends_at")]

    def __str__(self) -> str:
        return f"silence by {self.created_by} until {self.ends_at:%Y-%m-%d %H:%M}"


class Channel(models.Model):
    """Where notifications go, with Alertmanager's grouping times (seconds)."""

    class Kind(models.TextChoices):
        EMAIL = "email", "email"
        WEBHOOK = "webhook", "webhook (Alertmanager's JSON)"
        DINGTALK = "dingtalk", "DingTalk robot"
        WECOM = "wecom", "WeCom (企业微信) robot"
        FEISHU = "feishu", "Feishu / Lark robot"
        ALERTMANAGER = "alertmanager", "forward to an Alertmanager"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    target = models.CharField(
        max_length=1000, help_text="email: addresses separated by commas; others: the URL to POST to"
    )
    secret = models.CharField(max_length=255, blank=True, default="", help_text="DingTalk/Feishu signing secret")
    send_resolved = models.BooleanField(default=True)
    min_severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.WARNING)
    matchers = models.JSONField(default=list, blank=True, help_text="only alerts matching these (as silences)")
    group_wait = models.PositiveIntegerField(default=30)
    group_interval = models.PositiveIntegerField(default=300)
    repeat_interval = models.PositiveIntegerField(default=4 * 3600)
    timeout = models.FloatField(default=10.0, help_text="seconds for one delivery attempt")

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class NotificationGroup(models.Model):
    """What a channel last said about one group (rule, host): the memory behind group waits and repeats."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="groups")
    key = models.CharField(max_length=40, help_text="sha1 of rule id and host (grouping.group_key)")
    rule_name = models.CharField(
        max_length=100, help_text="the rule's name when the group began: its messages keep it, even after a rename"
    )
    host = models.CharField(max_length=255, blank=True, default="")
    first_seen = models.DateTimeField(default=timezone.now, help_text="when the group first had a firing alert")
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_digest = models.CharField(max_length=40, blank=True, default="", help_text="what the last message said")
    # The firing alerts the last message showed, by fingerprint (labels, annotations, startsAt as sent), so
    # the next run knows which resolved and can show them as they were (monitor/alerts/grouping.py).
    last_alerts = models.JSONField(default=dict, blank=True)
    sequence = models.PositiveIntegerField(default=0, help_text="messages written for this group; part of dedup_key")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "key"], name="notificationgroup_channel_key")]


class Notification(models.Model):
    """The outbox: one message for one channel, written in the same transaction as the change behind it.

    The sender claims a row (status sending, lease until `claimed_until`), delivers,
    then marks it sent; a worker that dies mid-delivery leaves a lease that expires
    and the row is tried again. `dedup_key` is unique, so a message is queued once.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENDING = "sending", "sending"
        SENT = "sent", "sent"
        FAILED = "failed", "failed (gave up)"

    id = models.BigAutoField(primary_key=True)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    group_key = models.CharField(max_length=40)
    dedup_key = models.CharField(max_length=64, unique=True)
    payload = models.JSONField(help_text="what is sent, in the channel's format")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due")]

    def __str__(self) -> str:
        return f"#{self.id} to {self.channel_id}: {self.status}"
