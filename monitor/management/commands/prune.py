import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from monitor.storage.retention import (
    count_prunable,
    count_prunable_cycles,
    prune_cycles,
    prune_resources,
    retention_cutoff,
)


class Command(BaseCommand):
    help = (
        "Delete Resource rows (and collection-cycle markers) older than --days (default RETENTION_DAYS) "
        "in small batches, each its own short transaction, with a progress bar; --dry-run only counts them."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None, help="keep this many days (default: RETENTION_DAYS)")
        parser.add_argument(
            "--batch-size", type=int, default=None, help="rows per DELETE (default: RETENTION_BATCH_SIZE)"
        )
        parser.add_argument("--pause", type=float, default=0.0, help="seconds to sleep between batches")
        parser.add_argument("--dry-run", action="store_true", help="count the rows that would go; delete nothing")

    def handle(self, *args, days: int | None, batch_size: int | None, pause: float, dry_run: bool, **options) -> None:
        days = getattr(settings, "RETENTION_DAYS", 30) if days is None else days
        batch_size = getattr(settings, "RETENTION_BATCH_SIZE", 5000) if batch_size is None else batch_size
        if days < 1:
            raise CommandError(f"--days must be at least 1 (got {days})")
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1 (got {batch_size})")
        if pause < 0:
            raise CommandError(f"--pause must not be negative (got {pause})")
        cutoff = retention_cutoff(days)
        total = count_prunable(cutoff)
        if dry_run:
            cycles = count_prunable_cycles(cutoff)
            self.stdout.write(
                f"would delete {total} rows and {cycles} collection cycles older than {cutoff.isoformat()}"
            )
            return
        started = time.monotonic()
        bar = ProgressBar(self.stdout, total)
        deleted = prune_resources(cutoff, batch_size=batch_size, pause=pause, progress=bar.update)
        bar.finish()
        cycles = prune_cycles(cutoff, batch_size=batch_size, pause=pause)
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"deleted {deleted} rows and {cycles} collection cycles older than {cutoff.isoformat()} "
                f"in {elapsed:.1f}s"
            )
        )


class ProgressBar:
    """`[#####.....] 52% 26000/50000 rows, 41000 rows/s`.

    Redrawn in place with \\r on a terminal; elsewhere (logs, cron mail) one line
    per 10% step so the output stays short and readable.
    """

    WIDTH = 10

    def __init__(self, out: OutputWrapper, total: int) -> None:
        self.out = out
        self.total = total
        self.tty = out.isatty()
        self.started = time.monotonic()
        self.last_step = 0
        self.drawn = False

    def update(self, done: int) -> None:
        # Rows back-dated into the range during the run can push `done` past the count.
        total = max(self.total, done, 1)
        percent = done * 100 // total
        elapsed = max(time.monotonic() - self.started, 1e-6)
        filled = done * self.WIDTH // total
        line = (
            f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {percent}% {done}/{total} rows, {done / elapsed:.0f} rows/s"
        )
        if self.tty:
            self.out.write("\r" + line, ending="")
            self.out.flush()
            self.drawn = True
        elif percent // 10 > self.last_step:
            self.last_step = percent // 10
            self.out.write(line)

    def finish(self) -> None:
        if self.drawn:
            self.out.write("")  # end the redrawn line
