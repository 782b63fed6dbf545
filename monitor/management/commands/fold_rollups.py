from django.core.management.base import BaseCommand

from monitor.storage.folding import fold_pending
from monitor.storage.instants import from_us


class Command(BaseCommand):
    help = (
        "Fold the samples now due into the minute and hour rollups and move the fold watermark "
        "(what the fold-rollups beat entry does every ROLLUP_FOLD_INTERVAL seconds). MySQL only: "
        "on SQLite every write folds its own samples."
    )

    def handle(self, *args, **options) -> None:
        report = fold_pending()
        if report.before is None and report.after is None:
            self.stdout.write("every write folds its own samples here (SQLite, or ROLLUP_FOLD_INLINE): nothing to do")
            return

        def when(us: int | None) -> str:
            return "inline (NULL)" if us is None else f"{from_us(us).isoformat()} ({us})"

        self.stdout.write(
            f"folded {report.samples} samples in {report.seconds:.3f} s; "
            f"watermark {when(report.before)} -> {when(report.after)}"
        )
