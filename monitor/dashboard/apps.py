from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """Its own app so its templates/ and static/ folders are found (no models)."""

    name = "monitor.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
