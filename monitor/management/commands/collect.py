from django.conf import settings
from django.core.management.base import BaseCommand

from monitor.collection.tasks import (
    collect_host_once,
    collect_servers_once,
    host_collectors,
    server_collectors,
    store_cycle,
)


class Command(BaseCommand):
    help = "Collect host and server metrics once, without a worker, and store them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="print the samples instead of storing them")

    def handle(self, *args, dry_run: bool, **options) -> None:
        if dry_run:
            for sample in collect_host_once() + collect_servers_once():
                self.stdout.write(f"{sample.name} {sample.value:g}")
            return
        # Two cycles, as the worker stores them: rates against the last stored cycle of each source.
        stored = store_cycle(host_collectors(), kind="host") + store_cycle(server_collectors(), kind="servers")
        self.stdout.write(self.style.SUCCESS(f"stored {stored} samples for host {settings.MONITOR_HOSTNAME}"))
