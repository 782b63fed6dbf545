import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from monitor.models import Sample
from monitor.storage.partitions import ensure_partitions
from monitor.storage.retention import TIER_NAMES, retention_days

# Keeping more than this is keeping everything (a cutoff before year 1 is not a date).
MAX_DAYS = 365 * 1000


class Command(BaseCommand):
    help = (
        "Remove what each storage tier (raw samples, per-minute and per-hour rollups) keeps past its retention: "
        "whole time partitions on MySQL, small batches elsewhere. --dry-run shows what each tier would lose."
    )

    def add_arguments(self, parser) -> None:
        for tier in TIER_NAMES:
            parser.add_argument(
                f"--{tier}-days",
                type=int,
                default=None,
                help=f"keep this many days of {tier} data (default: RETENTION_{tier.upper()}_DAYS)",
            )
        parser.add_argument("--days", type=int, default=None, help="the same as --raw-days (older name)")
        parser.add_argument(
            "--batch-size", type=int, default=None, help="rows per DELETE where tables are not partitioned"
        )
        parser.add_argument("--pause", type=float, default=0.0, help="seconds to sleep between batches")
        parser.add_argument("--dry-run", action="store_true", help="show what would go; remove nothing")

    def handle(self, *args, dry_run: bool, pause: float, batch_size: int | None, days: int | None, **options) -> None:
        batch_size = settings.RETENTION_BATCH_SIZE if batch_size is None else batch_size
        keep = retention_days()
        if days is not None:
            keep["raw"] = days
        for tier in TIER_NAMES:
            if options[f"{tier}_days"] is not None:
                keep[tier] = options[f"{tier}_days"]
        for tier, value in keep.items():
            if not 1 <= value <= MAX_DAYS:
                raise CommandError(f"--{tier}-days must be from 1 to {MAX_DAYS} (got {value})")
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1 (got {batch_size})")
        if pause < 0:
            raise CommandError(f"--pause must not be negative (got {pause})")
        if not dry_run:
            for name in ensure_partitions():
                self.stdout.write(f"created partition {name}")
        started = time.monotonic()
        reports = Sample.objects.prune(
            dry_run=dry_run, batch_size=batch_size, pause=pause, days=keep, progress=self._progress
        )
        verb = "would remove" if dry_run else "removed"
        for report in reports:
            rows = f"~{report.rows}" if report.estimated else f"{report.rows}"
            where = f" (partitions {', '.join(report.partitions)})" if report.partitions else ""
            self.stdout.write(
                f"{report.tier}: {verb} {rows} rows older than {report.cutoff.isoformat()} "
                f"(keeps {report.days} days){where}"
            )
            if report.next_partition is not None:
                name, goes_at = report.next_partition
                self.stdout.write(
                    f"  whole partitions only: the oldest kept, {name}, goes once all of it is past the cutoff,"
                    f" from {goes_at.isoformat()}"
                )
        if not dry_run:
            self.stdout.write(self.style.SUCCESS(f"done in {time.monotonic() - started:.1f}s"))

    def _progress(self, tier: str, removed: int) -> None:
        self.stdout.write(f"  {tier}: {removed} rows removed so far")
