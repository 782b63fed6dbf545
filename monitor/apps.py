from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate
from django.utils.translation import gettext_lazy as _


class MonitorConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitor"
    verbose_name = _("Monitor")

    def ready(self) -> None:
        from .database import lengthen_timeouts_for_migrate, restore_timeouts_after_migrate

        # Sent once per app; the handlers act on the first and ignore the rest.
        pre_migrate.connect(lengthen_timeouts_for_migrate, dispatch_uid="monitor.lengthen_timeouts")
        post_migrate.connect(restore_timeouts_after_migrate, dispatch_uid="monitor.restore_timeouts")
