"""Multi-row INSERTs of numbers, written out by us on MySQL instead of by mysqlclient.

mysqlclient's executemany quotes every value through `Connection.literal`
(a Python call and an isinstance chain per value): for the write path's rows,
which are only integers and floats, that cost more CPU than MariaDB took to
run the statement (bench/remote_write.py). Here each row is one `%` format
(`%d` for integers, `%r` for floats: Python's shortest repr reads back as the
same double), joined into statements of at most MAX_STATEMENT_BYTES. SQLite's
executemany is C already and keeps it.
"""

from collections.abc import Sequence
from functools import cache

from django.db import connection

# A statement's size; a request is bounded by DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB),
# so a bulk POST goes as one statement, well below MySQL's max_allowed_packet
# (16 MiB by default on MariaDB, 64 MiB on MySQL 8).
MAX_STATEMENT_BYTES = 8 * 1024 * 1024


def insert_numbers(sql: str, rows: Sequence[tuple], row_format: str) -> int:
    """Run `sql` (one `VALUES (%s, ...)` group) for every row; returns the rows it changed.

    `row_format` formats one row, e.g. "(%d,%d,%r)": ints as %d, floats as %r.
    A float must be finite (storage refuses the others before they get here).
    """
    if not rows:
        return 0
    with connection.cursor() as cursor:
        if connection.vendor != "mysql":
            cursor.executemany(sql, rows)
            return cursor.rowcount
        head, tail = _split(sql)
        changed = 0
        values = [row_format % row for row in rows]
        start, size = 0, 0
        for index, text in enumerate(values):
            if size + len(text) > MAX_STATEMENT_BYTES and index > start:
                changed += _run(cursor, head, values[start:index], tail)
                start, size = index, 0
            size += len(text) + 1
        return changed + _run(cursor, head, values[start:], tail)


def numbers_statement(sql: str, rows: Sequence[tuple], row_format: str) -> str:
    """`sql` with a few `rows` written in as one statement, for a packet of several (no size split)."""
    return numbers_statement_of(sql, [row_format % row for row in rows])


def numbers_statement_of(sql: str, rows: Sequence[str]) -> str:
    """`sql` with rows already written out (`(1,2,3.5)`) in place of its `VALUES (%s, ...)` group."""
    head, tail = _split(sql)
    return head + ",".join(rows) + tail


def _run(cursor, head: str, values: list[str], tail: str) -> int:
    cursor.execute(head + ",".join(values) + tail)  # no parameters: nothing in it is a placeholder
    return cursor.rowcount


@cache
def _split(sql: str) -> tuple[str, str]:
    """ "INSERT ... VALUES (%s, %s) ON ..." -> ("INSERT ... VALUES ", " ON ...")."""
    start = sql.index("(%s")
    end = sql.index(")", start) + 1
    return sql[:start], sql[end:]
