"""Many rows of plain numbers in one INSERT, written as SQL text on MySQL.

mysqlclient quotes every parameter of an executemany through Python-level
converters (a type lookup, an escape and an encode per value). A collection
cycle writes about 230 rows of numbers (its samples, and three rollup rows per
series), and quoting them took 4 ms of the 5.7 ms of CPU a host cycle cost,
most of the worker's budget at a 1 s interval (bench/COLLECTOR_COST.md).
Numbers need no escaping: one %-format per row writes them, exactly.

Floats are written with 17 significant digits ("%.17g"), which read back as
the same double (IEEE 754: 17 digits always round-trip). A value that is not
a finite number (NaN, infinity), or a row that does not fit the format, goes
through mysqlclient's own path instead, which refuses it as before.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

# Rows per statement: a sample row is at most ~60 bytes as text and a rollup row
# ~150, so a statement stays well below max_allowed_packet (16 MiB by default on
# MariaDB, 64 MiB on MySQL 8). A bulk POST (at most 2.5 MB of JSON) is one or two.
ROWS_PER_STATEMENT = 40_000


@dataclass(frozen=True)
class Insert:
    """An INSERT of `columns` rows: `head` up to VALUES, `tail` after the rows (ON DUPLICATE KEY ...).

    `kinds` holds one letter per column: "i" for an integer, "f" for a float.
    """

    head: str
    kinds: str
    tail: str = ""

    @property
    def row(self) -> str:
        return "(" + ",".join("%d" if kind == "i" else "%.17g" for kind in self.kinds) + ")"

    @property
    def placeholders(self) -> str:
        return f"{self.head} ({', '.join(['%s'] * len(self.kinds))}) {self.tail}"


def execute(insert: Insert, rows: Sequence[tuple]) -> int:
    """Run `insert` for `rows`; returns the rows it changed (as the cursor's rowcount counts them)."""
    if not rows:
        return 0
    changed = 0
    with connection.cursor() as cursor:
        if connection.vendor != "mysql":
            cursor.executemany(insert.placeholders, rows)
            return cursor.rowcount
        row = insert.row
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            values = _values(row, chunk)
            if values is None:
                cursor.executemany(insert.placeholders, chunk)
            else:
                cursor.execute(f"{insert.head} {values} {insert.tail}")
            changed += cursor.rowcount
    return changed


def _values(row: str, rows: Sequence[tuple]) -> str | None:
    """`rows` as SQL VALUES text, or None when a value is no finite number."""
    try:
        text = ",".join([row % values for values in rows])
    except TypeError:  # not a number
        return None
    # Only "nan" and "inf" put an n in a number written by %d or %.17g.
    return None if "n" in text else text
