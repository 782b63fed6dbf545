from django.conf import settings
from django.core.management.base import BaseCommand

from monitor.collection.tasks import collect_host_once, collect_servers_once
from monitor.storage.inserts import resource_bulk_create


class Command(BaseCommand):
    help = "Collect host and server metrics once, without a worker, and store them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="print the samples instead of storing them")

    def handle(self, *args, dry_run: bool, **options) -> None:
        samples = collect_host_once() + collect_servers_once()
        if dry_run:
            for sample in samples:
                self.stdout.write(f"{sample.name} {sample.value:g}")
            return
        stored = resource_bulk_create(samples, host=settings.MONITOR_HOSTNAME)
        self.stdout.write(self.style.SUCCESS(f"stored {stored} samples for host {settings.MONITOR_HOSTNAME}"))
