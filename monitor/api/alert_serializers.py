"""JSON <-> alert rules, alerts, events and silences: every rule about a valid rule or silence lives here."""

from __future__ import annotations

import re

import re2
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from monitor.alerts.labels import alert_labels, severity_of
from monitor.alerts.matchers import compile_matcher
from monitor.alerts.models import Alert, AlertEvent, AlertRule, Silence
from monitor.alerts.validation import MIN_WINDOW, rule_problems

MAX_WINDOW = 7 * 86400
MAX_SECONDS = 7 * 86400
RESERVED_LABELS = frozenset({"alertname", "host", "metric", "severity"})
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_REGEX = 1000


def _string_map(value: object, reserved: frozenset[str] = frozenset()) -> dict[str, str]:
    if not isinstance(value, dict):
        raise serializers.ValidationError(_("Expected an object of label names to text values."))
    for name, text in value.items():
        if not LABEL_NAME.match(str(name)):
            raise serializers.ValidationError(
                _("%(name)r is not a label name ([A-Za-z_][A-Za-z0-9_]*).") % {"name": name}
            )
        if name in reserved:
            raise serializers.ValidationError(
                _("%(name)r is set by the evaluator; choose another name.") % {"name": name}
            )
        if not isinstance(text, str):
            raise serializers.ValidationError(_("The value of %(name)r must be text.") % {"name": name})
    return value


class AlertRuleSerializer(serializers.ModelSerializer):
    """A rule: its selector, lookup, thresholds with their clear values, timing and what its alerts say."""

    window = serializers.IntegerField(
        min_value=MIN_WINDOW, max_value=MAX_WINDOW, default=300, help_text="seconds the lookup reads back (>= 60)"
    )
    for_seconds = serializers.IntegerField(min_value=0, max_value=MAX_SECONDS, default=0)
    keep_firing_for = serializers.IntegerField(min_value=0, max_value=MAX_SECONDS, default=0)
    warning = serializers.FloatField(required=False, allow_null=True, min_value=-1e300, max_value=1e300)
    warning_clear = serializers.FloatField(required=False, allow_null=True, min_value=-1e300, max_value=1e300)
    critical = serializers.FloatField(required=False, allow_null=True, min_value=-1e300, max_value=1e300)
    critical_clear = serializers.FloatField(required=False, allow_null=True, min_value=-1e300, max_value=1e300)
    match_labels = serializers.JSONField(required=False, help_text='e.g. {"mount": "/"}; values may use * globs')
    labels = serializers.JSONField(required=False, help_text="added to every alert of the rule")

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "enabled",
            "description",
            "metric",
            "host_pattern",
            "match_labels",
            "lookup",
            "window",
            "direction",
            "warning",
            "warning_clear",
            "critical",
            "critical_clear",
            "for_seconds",
            "keep_firing_for",
            "nodata",
            "labels",
            "summary",
            "inhibits_host",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_metric(self, value: str) -> str:
        problems = rule_problems({"metric": value, "nodata": "alert"}).get("metric")
        if problems:
            raise serializers.ValidationError(problems)
        return value

    def validate_match_labels(self, value: object) -> dict:
        return _string_map(value)

    def validate_labels(self, value: object) -> dict:
        return _string_map(value, RESERVED_LABELS)

    def validate(self, attrs: dict) -> dict:
        merged = {field: getattr(self.instance, field) for field in self.Meta.fields if self.instance is not None}
        merged.update(attrs)
        errors = rule_problems(merged)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class AlertSerializer(serializers.ModelSerializer):
    """One rule applied to one series: its state now, its value and what it says."""

    rule = serializers.SlugRelatedField(slug_field="name", read_only=True)
    severity = serializers.SerializerMethodField(help_text="warning or critical (nodata counts as critical)")
    labels = serializers.SerializerMethodField(help_text="what silences and channels match on")
    firing = serializers.BooleanField(read_only=True, help_text="warning, critical or nodata")

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "state",
            "severity",
            "firing",
            "host",
            "series_name",
            "value",
            "summary",
            "labels",
            "pending_since",
            "firing_since",
            "cleared_since",
            "changed_at",
            "evaluated_at",
        ]
        read_only_fields = fields

    def get_severity(self, alert: Alert) -> str:
        return severity_of(alert)

    def get_labels(self, alert: Alert) -> dict[str, str]:
        return alert_labels(alert)


class AlertEventSerializer(serializers.ModelSerializer):
    """One state change, in the order they happened (ascending id)."""

    rule = serializers.CharField(source="rule_name", read_only=True)
    alert = serializers.IntegerField(source="alert_id", read_only=True)

    class Meta:
        model = AlertEvent
        fields = [
            "id",
            "alert",
            "rule",
            "host",
            "series_name",
            "from_state",
            "to_state",
            "value",
            "summary",
            "labels",
            "at",
        ]
        read_only_fields = fields


class EventPageSerializer(serializers.Serializer):
    results = AlertEventSerializer(many=True)
    next = serializers.URLField(help_text="ask this for the events after these: to page, and to poll for new ones")
    has_more = serializers.BooleanField(help_text="more events are already there beyond `limit`")


class MatcherSerializer(serializers.Serializer):
    """One matcher as the schema shows it (checked by MatchersField, whose errors stay a flat list)."""

    name = serializers.RegexField(LABEL_NAME, max_length=100, help_text="a label name: alertname, host, severity, ...")
    value = serializers.CharField(max_length=MAX_REGEX, allow_blank=True, trim_whitespace=False)
    regex = serializers.BooleanField(default=False, help_text="value is a regular expression matching the whole label")


@extend_schema_field(MatcherSerializer(many=True))
class MatchersField(serializers.JSONField):
    """A non-empty list of {name, value, regex}; every problem is one line naming the matcher by index."""

    def to_internal_value(self, data: object) -> list[dict]:
        data = super().to_internal_value(data)
        if not isinstance(data, list) or not data:
            raise serializers.ValidationError(_("A non-empty list of {name, value, regex} objects."))
        cleaned, problems = [], []
        for index, matcher in enumerate(data):
            problem = _matcher_problem(matcher)
            if problem:
                problems.append(_("matcher %(index)d: %(problem)s") % {"index": index, "problem": problem})
            else:
                cleaned.append(
                    {"name": matcher["name"], "value": matcher["value"], "regex": bool(matcher.get("regex"))}
                )
        if problems:
            raise serializers.ValidationError(problems)
        return cleaned


def _matcher_problem(matcher: object) -> str:
    if not isinstance(matcher, dict):
        return _("expected an object {name, value, regex}")
    unknown = set(matcher) - {"name", "value", "regex"}
    if unknown:
        return _("unknown keys %s") % ", ".join(sorted(map(str, unknown)))
    name, value, regex = matcher.get("name"), matcher.get("value"), matcher.get("regex", False)
    if not isinstance(name, str) or not LABEL_NAME.match(name) or len(name) > 100:
        return _("name must be a label name ([A-Za-z_][A-Za-z0-9_]*)")
    if not isinstance(value, str) or len(value) > MAX_REGEX:
        return _("value must be text of at most %d characters") % MAX_REGEX
    if not isinstance(regex, bool):
        return _("regex must be true or false")
    if regex:
        try:
            compile_matcher(value)
        except re2.error as exc:
            return _("not a regular expression: %s") % exc
    return ""


class SilenceSerializer(serializers.ModelSerializer):
    """Alerts whose labels match every matcher send nothing between starts_at and ends_at."""

    matchers = MatchersField(help_text="alerts match when every matcher matches one of their labels")
    active = serializers.SerializerMethodField(help_text="now between starts_at and ends_at")

    class Meta:
        model = Silence
        fields = ["id", "matchers", "starts_at", "ends_at", "created_by", "comment", "created_at", "active"]
        read_only_fields = ["id", "created_by", "created_at", "active"]
        extra_kwargs = {"comment": {"allow_blank": False}}

    def get_active(self, silence: Silence) -> bool:
        return silence.starts_at <= timezone.now() < silence.ends_at

    def validate(self, attrs: dict) -> dict:
        starts = attrs.get("starts_at", getattr(self.instance, "starts_at", None)) or timezone.now()
        ends = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts is not None and ends is not None and ends <= starts:
            raise serializers.ValidationError({"ends_at": [_("Must be after starts_at.")]})
        return attrs
