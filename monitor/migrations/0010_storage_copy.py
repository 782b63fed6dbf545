"""Copy the samples of the old one-table layout (monitor_resource) into the new storage.

In batches of COPY_BATCH rows in id order, each batch committed together with
the position it reached (table monitor_storagecopy), with a progress line per
batch: a copy stopped part way (Ctrl-C, a lost connection) continues where it
stopped when `migrate` runs again. The write path is the application's own
(monitor.storage.inserts.store), so series, rollups and latest values come out
as if the samples had arrived one by one. Two old rows of one series at the
same instant keep the first; the count of such repeats is printed.
"""

import math
import sys
import time

from django.db import migrations, transaction

COPY_BATCH = 5000
PROGRESS = "monitor_storagecopy"


def copy_samples(apps, schema_editor) -> None:
    from monitor.storage.folding import folded_in_the_write
    from monitor.storage.inserts import MAX_ABS_VALUE, Conflict, Point, store
    from monitor.storage.instants import to_us
    from monitor.storage import catalog

    connection = schema_editor.connection
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {quote(PROGRESS)} (id INTEGER PRIMARY KEY, last_id BIGINT NOT NULL,"
            " copied BIGINT NOT NULL, repeats BIGINT NOT NULL)"
        )
        cursor.execute(f"SELECT last_id, copied, repeats FROM {quote(PROGRESS)} WHERE id = 1")
        row = cursor.fetchone()
        if row is None:
            cursor.execute(f"INSERT INTO {quote(PROGRESS)} (id, last_id, copied, repeats) VALUES (1, 0, 0, 0)")
            row = (0, 0, 0)
        last_id, copied, repeats = row
        cursor.execute("SELECT COUNT(*) FROM monitor_resource WHERE id > %s", [last_id])
        remaining = cursor.fetchone()[0]
    if not remaining:
        return
    catalog.forget()
    total = copied + remaining
    started = time.monotonic()
    out = sys.stdout
    left_out = 0
    out.write(f"\n  copying {remaining:,} samples to the new storage ({copied:,} copied before)\n")
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, name, value, description, timestamp, host FROM monitor_resource"
                " WHERE id > %s ORDER BY id LIMIT %s",
                [last_id, COPY_BATCH],
            )
            batch = cursor.fetchall()
        if not batch:
            break
        # The old API took any double; the new storage refuses what its rollups could not add up.
        points = [
            Point(name, host, to_us(_aware(connection, at)), value, description)
            for _, name, value, description, at, host in batch
            if math.isfinite(value) and abs(value) <= MAX_ABS_VALUE
        ]
        left_out += len(batch) - len(points)
        # Every tier folded by the write itself: the fold watermark's table comes in a later migration.
        with transaction.atomic(using=connection.alias), folded_in_the_write():
            stored, skipped = _store_keeping_first(points, store, Conflict)
            last_id = batch[-1][0]
            copied += stored
            repeats += skipped
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {quote(PROGRESS)} SET last_id = %s, copied = %s, repeats = %s WHERE id = 1",
                    [last_id, copied, repeats],
                )
        elapsed = max(time.monotonic() - started, 1e-6)
        done = copied + repeats + left_out
        out.write(f"  {done:,}/{total:,} rows ({100 * done // max(total, 1)}%), {done / elapsed:,.0f} rows/s\n")
        out.flush()
    out.write(f"  copied {copied:,} samples; {repeats:,} repeats of a series at one instant kept once\n")
    if left_out:
        out.write(f"  {left_out:,} samples beyond +-1e300 (or not finite) left out: the API refuses such values\n")


def _store_keeping_first(points, store, conflict) -> tuple[int, int]:
    """Store a batch; samples that clash with an earlier one of the same series and instant are dropped."""
    while True:
        try:
            store(points)
            return len(points), 0
        except conflict as exc:
            dropped = set(exc.items)
            kept = [point for index, point in enumerate(points) if index not in dropped]
            stored, _ = _store_keeping_first(kept, store, conflict) if kept else (0, 0)
            return stored, len(dropped)


def _aware(connection, value):
    from datetime import UTC, datetime

    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Migration(migrations.Migration):
    atomic = False  # each batch commits on its own: the copy can stop and resume
    dependencies = [("monitor", "0009_storage_tables")]

    operations = [migrations.RunPython(copy_samples, migrations.RunPython.noop)]
