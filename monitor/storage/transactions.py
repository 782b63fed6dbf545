"""Transactions of plain statements: what the write path and the folder run their writes in."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction


@contextmanager
def write_transaction() -> Iterator[None]:
    """All of a write or none of it.

    Only plain cursor statements may run inside on MySQL: the ORM's own
    transaction handling would commit this one early.
    """
    if connection.vendor != "mysql" or connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with connection.cursor() as cursor:
        cursor.execute("START TRANSACTION")
        try:
            yield
        except BaseException:
            roll_back(cursor)
            raise
        cursor.execute("COMMIT")


def roll_back(cursor) -> None:
    """End a failed plain-statement transaction; a connection already gone took it with it."""
    try:
        cursor.execute("ROLLBACK")
    except DatabaseError:
        pass
