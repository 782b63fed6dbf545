"""What a client reads when a database error ends its request: the state in plain words, never the driver's text."""

from django.db import OperationalError

from monitor.database import UNAVAILABLE, classify


def test_a_write_that_deadlocked_at_every_try_says_the_database_is_busy_not_gone():
    fault = classify(OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction"))
    assert fault.kind == UNAVAILABLE and fault.retry_after == 5
    assert fault.message.startswith("Database busy: concurrent writes to the same series deadlocked")
    assert "send it again" in fault.message


def test_a_lock_wait_timeout_says_so_too():
    fault = classify(OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction"))
    assert fault.message.startswith("Database busy: a lock on the same series was held past the lock wait timeout")


def test_a_server_that_went_away_is_unavailable():
    assert classify(OperationalError(2006, "MySQL server has gone away")).message == (
        "Database unavailable: the server has gone away."
    )
