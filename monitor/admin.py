from django.contrib import admin, messages
from django.db import connection
from django.utils import timezone

from .api.auth import hash_key, issue_token
from .models import ApiToken, Host, LegacyUser, Resource


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ("name", "value", "host", "timestamp", "description")
    list_filter = ("host",)
    search_fields = ("name", "host")
    date_hierarchy = "timestamp"
    ordering = ("-timestamp", "-id")
    # An exact COUNT(*) over millions of rows would slow every changelist page.
    show_full_result_count = False
    list_per_page = 100


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
        self.message_user(request, f"New token key (copy it now, it is not stored): {key}", messages.WARNING)

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).")


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
