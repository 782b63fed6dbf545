from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from rest_framework.exceptions import ValidationError

from .alerts.models import Alert, AlertEvent, AlertRule, Channel, Notification, Silence
from .alerts.validation import rule_problems
from .api.alert_serializers import MatchersField
from .api.auth import hash_key, issue_token
from .models import ApiToken, Host, LegacyUser, Resource, Rollup, Sample, Series
from .storage.edits import delete_sample, delete_samples
from .storage.instants import from_us


class HostFilter(admin.SimpleListFilter):
    """Hosts offered from the Host table, not by scanning samples."""

    title = gettext_lazy("host")
    parameter_name = "host"

    def lookups(self, request, model_admin):
        return [(name, name) for name in Host.objects.order_by("name").values_list("name", flat=True)]

    def queryset(self, request, queryset):
        return queryset.filter(host=self.value()) if self.value() is not None else queryset


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    """Samples as the notes' table showed them (the monitor_resource view); read-only but for delete.

    Fine for a few million samples; on larger installs look a series up under Series instead.
    """

    list_display = ("name", "value", "host", "timestamp", "description")
    list_filter = (HostFilter,)
    search_fields = ("name", "host")
    ordering = ("-timestamp",)
    # An exact COUNT(*) over millions of rows would slow every changelist page.
    show_full_result_count = False
    list_per_page = 100

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        delete_sample(*_sample_key(obj.id))

    def delete_queryset(self, request, queryset) -> None:
        delete_samples(_sample_key(sample_id) for sample_id in queryset.values_list("id", flat=True))


def _sample_key(sample_id: str) -> tuple[int, int]:
    """(series id, microseconds) of a Resource id, "<series id>-<microseconds>" (the instant may be negative)."""
    series_id, ts = sample_id.split("-", 1)
    return int(series_id), int(ts)


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    """The series catalog: one row per metric and host, with its latest value and recent samples."""

    list_display = ("name", "host", "unit", "latest_value", "latest_at")
    search_fields = ("name", "host")
    list_filter = ("unit",)
    ordering = ("host", "name")
    readonly_fields = ("key", "name", "metric", "host", "labels", "unit", "first_seen", "recent_samples")
    fields = ("name", "host", "metric", "labels", "description", "unit", "first_seen", "key", "recent_samples")

    def get_queryset(self, request):
        # The latest value is the series' step-0 rollup row: two subqueries on its primary key per row shown.
        latest = Rollup.objects.filter(series_id=OuterRef("pk"), step=Rollup.LATEST, bucket=0)
        return (
            super()
            .get_queryset(request)
            .annotate(_last=Subquery(latest.values("last")[:1]), _last_ts=Subquery(latest.values("last_ts")[:1]))
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # A series' samples and rollups are not deleted with it, and every process keeps its id in the
        # catalog cache for minutes: its next samples would be stored under an id nothing lists. Its
        # samples go by retention, or one at a time under Resources.
        return False

    @admin.display(description=gettext_lazy("latest value"))
    def latest_value(self, obj: Series):
        return getattr(obj, "_last", None)

    @admin.display(description=gettext_lazy("latest at"))
    def latest_at(self, obj: Series):
        ts = getattr(obj, "_last_ts", None)
        return None if ts is None else from_us(ts)

    @admin.display(description=gettext_lazy("recent samples"))
    def recent_samples(self, obj: Series) -> str:
        rows = Sample.objects.filter(series_id=obj.id).order_by("-ts").values_list("ts", "value")[:50]
        return format_html_join(
            "", "<div><code>{}</code> {}</div>", ((from_us(ts).isoformat(), value) for ts, value in rows)
        ) or _("none")


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ("name", "last_seen", "first_seen")
    search_fields = ("name",)
    ordering = ("name",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Issue tokens here (the key is shown once, in a message) and revoke them."""

    list_display = ("name", "scope", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix")
    fields = ("name", "scope", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    actions = ["revoke"]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return super().save_model(request, obj, form, change)
        token, key = issue_token(obj.name, obj.scope)
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = token.pk, token.prefix, hash_key(key), token.created_at
        self.message_user(
            request, _("New token key (copy it now, it is not stored): %(key)s") % {"key": key}, messages.WARNING
        )

    @admin.action(description=gettext_lazy("Revoke selected tokens"))
    def revoke(self, request, queryset) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request, ngettext("Revoked %(count)d token.", "Revoked %(count)d tokens.", count) % {"count": count}
        )


@admin.register(LegacyUser)
class LegacyUserAdmin(admin.ModelAdmin):
    """The notes' inspectdb example: a table made in SQL, managed in the admin."""

    list_display = ("id", "name", "email")
    search_fields = ("name", "email")

    # Shown and reachable only where sql/legacy_user.sql has created the table;
    # elsewhere (e.g. the embedded SQLite database) its pages answer 403, not 500.
    def has_module_permission(self, request) -> bool:
        return _legacy_table_exists() and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _legacy_table_exists() and super().has_view_permission(request, obj)

    def has_add_permission(self, request) -> bool:
        return _legacy_table_exists() and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return _legacy_table_exists() and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return _legacy_table_exists() and super().has_delete_permission(request, obj)


def _legacy_table_exists() -> bool:
    return LegacyUser._meta.db_table in connection.introspection.table_names()


# --- alerting (issue 14) ---------------------------------------------------------------


class AlertRuleForm(forms.ModelForm):
    """The admin's rule form checks what the API checks (monitor/alerts/validation.py)."""

    class Meta:
        model = AlertRule
        fields = "__all__"

    def clean(self):
        values = super().clean()
        for field, problems in rule_problems(values).items():
            for problem in problems:
                self.add_error(None if field == "non_field_errors" or field not in self.fields else field, problem)
        return values


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    list_display = ("name", "enabled", "metric", "host_pattern", "lookup", "window", "warning", "critical", "nodata")
    list_filter = ("enabled", "nodata", "lookup")
    search_fields = ("name", "metric", "description")
    ordering = ("name",)


class ReadOnlyAdmin(admin.ModelAdmin):
    """What the evaluator or the sender writes: shown, never edited by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("rule", "host", "series_name", "state", "value", "summary", "changed_at")
    list_filter = ("state", "rule")
    search_fields = ("host", "series_name", "summary")
    list_select_related = ("rule",)
    ordering = ("-changed_at",)


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "at", "rule_name", "host", "series_name", "from_state", "to_state", "value")
    list_filter = ("to_state",)
    search_fields = ("rule_name", "host", "series_name")
    ordering = ("-id",)
    show_full_result_count = False  # the log only grows

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _checked_matchers(form: forms.ModelForm, values: dict, required: bool) -> None:
    """The API's matcher checks (MatchersField) on the admin's JSON box: a silence needs one at least."""
    matchers = values.get("matchers")
    if not required and matchers in (None, [], ""):
        values["matchers"] = []
        return
    try:
        values["matchers"] = MatchersField().run_validation(matchers)
    except ValidationError as exc:
        for problem in exc.detail if isinstance(exc.detail, list) else [exc.detail]:
            form.add_error("matchers", str(problem))


class SilenceForm(forms.ModelForm):
    """The admin's silence form checks what the API checks (SilenceSerializer)."""

    class Meta:
        model = Silence
        fields = "__all__"

    def clean(self):
        values = super().clean()
        _checked_matchers(self, values, required=True)
        starts, ends = values.get("starts_at"), values.get("ends_at")
        if starts is not None and ends is not None and ends <= starts:
            self.add_error("ends_at", _("Must be after starts_at."))
        return values


class ChannelForm(forms.ModelForm):
    """Matchers as silences take them, email addresses and URLs checked before a send finds them wrong."""

    class Meta:
        model = Channel
        fields = "__all__"

    def clean(self):
        values = super().clean()
        _checked_matchers(self, values, required=False)
        kind, target = values.get("kind"), values.get("target") or ""
        try:
            if kind == Channel.Kind.EMAIL:
                for address in target.split(","):
                    EmailValidator()(address.strip())
            elif kind:
                URLValidator(schemes=["http", "https"])(target.strip())
        except DjangoValidationError:
            self.add_error("target", _("email: addresses separated by commas; others: an http(s) URL."))
        return values


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    form = SilenceForm
    list_display = ("id", "matchers", "starts_at", "ends_at", "created_by", "comment")
    search_fields = ("comment", "created_by")
    readonly_fields = ("created_by", "created_at")
    ordering = ("-starts_at",)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user.get_username()[:150]
        super().save_model(request, obj, form, change)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ("name", "kind", "enabled", "target", "min_severity", "send_resolved")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "target")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "channel", "status", "attempts", "created_at", "sent_at", "last_error")
    list_filter = ("status", "channel")
    list_select_related = ("channel",)
    ordering = ("-id",)
    show_full_result_count = False
