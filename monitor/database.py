"""The database as the web process sees it: what a database error means, and whether it answers now.

A database that is down, frozen, read-only or too slow is a state to report (a
503 that says which, health naming it), never a 500 or a hang. `classify` turns
an error into that state; `probe` asks the server itself, in bounded time, and
shares the answer between the threads of a process for a second.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DatabaseError, InterfaceError, OperationalError, connections

from .deadline import describe

UNAVAILABLE, READ_ONLY, TOO_SLOW = "unavailable", "read_only", "too_slow"

# MySQL/MariaDB error codes and what each one means for a client.
READ_ONLY_CODES = {
    1290,  # ER_OPTION_PREVENTS_STATEMENT: --read-only (or MySQL's super_read_only)
    1836,  # ER_READ_ONLY_MODE
    1792,  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
}
TOO_SLOW_CODES = {
    1969,  # MariaDB ER_STATEMENT_TIMEOUT: max_statement_time exceeded
    3024,  # MySQL ER_QUERY_TIMEOUT: max_execution_time exceeded
}
UNAVAILABLE_REASONS = {
    1040: "too many connections",
    1203: "the user has too many connections",
    2002: "cannot connect",
    2003: "cannot connect",
    2005: "unknown server host",
    2006: "the server has gone away",
    2013: "lost connection or no answer in time",
}
# Writes that met other writers at every try: the server is up, the same rows were busy.
CONTENDED_CODES = {
    1213: "concurrent writes to the same series deadlocked at every try",
    1205: "a lock on the same series was held past the lock wait timeout at every try",
}
# A probe's answer is reused this long by every thread of the process.
ANSWER_REUSED = 1.0
# Seconds a client should wait before trying again, per state.
RETRY_AFTER = {UNAVAILABLE: 5, READ_ONLY: 60, TOO_SLOW: 5}


@dataclass(frozen=True)
class Fault:
    """What a database error means: its kind, a sentence for the client, and when to retry."""

    kind: str
    message: str

    @property
    def retry_after(self) -> int:
        return RETRY_AFTER[self.kind]


def classify(exc: BaseException, statement_timeout: float = 0) -> Fault | None:
    """The Fault a database error stands for, or None when it is a bug (bad SQL, integrity) and stays a 500."""
    if not isinstance(exc, DatabaseError):
        return None
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = str(exc.args[-1]) if exc.args else ""
    if code in READ_ONLY_CODES or "readonly database" in text:  # the last: SQLite on a read-only file
        return Fault(READ_ONLY, "The database is read-only: writes are refused until it accepts them again.")
    if code in TOO_SLOW_CODES:
        limit = f" ({statement_timeout:g} s, DATABASE_STATEMENT_TIMEOUT)" if statement_timeout else ""
        return Fault(
            TOO_SLOW, f"The query ran longer than its time limit{limit} and was stopped; ask for less data at once."
        )
    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    if code in CONTENDED_CODES:  # what is left after inserts.retrying tried again (LOCK_RETRIES)
        return Fault(UNAVAILABLE, f"Database busy: {CONTENDED_CODES[code]}; nothing was stored, send it again.")
    return Fault(UNAVAILABLE, f"Database unavailable: {unavailable_reason(exc)}.")


def unavailable_reason(exc: BaseException) -> str:
    """Why a database error means the server is unavailable, in the words answers use: `cannot connect`."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if code is None:
        return (str(exc.args[-1]) if exc.args else "") or type(exc).__name__
    return UNAVAILABLE_REASONS.get(code) or f"error {code}"


@dataclass(frozen=True)
class DatabaseState:
    """One answer of the probe: `ok`, `read_only` or `down` (with why)."""

    state: str
    error: str = ""  # the details, for health and the logs
    reason: str = ""  # what a client's 503 says (default: `error`)

    @property
    def down(self) -> bool:
        return self.state == "down"

    @property
    def answer(self) -> str:
        return self.reason or self.error


class Probe:
    """Asks the database, on a connection of its own, whether it answers and whether it takes writes
    (or another question: `ask`; the read replica's router asks whether it keeps up).

    A probe that has not answered within `budget` seconds counts as `down`.
    Threads that ask while one runs wait for it (never past its budget), and an
    answer is reused for `reuse` seconds (ANSWER_REUSED), so a process asks at most
    about once a second however many requests want to know. A probe stuck on a frozen
    server stays in its daemon thread until the connect/read timeouts of
    DATABASE_URL end it; nobody waits for that, and the next question starts a
    new one.
    """

    def __init__(
        self, budget: float, ask: Callable[[], DatabaseState] | None = None, reuse: float = ANSWER_REUSED
    ) -> None:
        self.budget = budget
        self.ask = ask or ask_primary  # the question, asked on the probe's own thread
        self.reuse = reuse  # seconds an answer is shared before a new probe
        self._lock = threading.Lock()
        self._answer: DatabaseState | None = None
        self._answered_at = float("-inf")
        self._running: tuple[threading.Event, float] | None = None  # (answered, deadline)

    def recent(self, max_age: float | None = None) -> DatabaseState | None:
        """The last answer if it is at most `max_age` (default: `reuse`) seconds old; never starts a probe."""
        with self._lock:
            if time.monotonic() - self._answered_at <= (self.reuse if max_age is None else max_age):
                return self._answer
        return None

    def check(self, reuse_ok: bool = True) -> DatabaseState:
        """A recent answer, or a new one within the budget. Health passes `reuse_ok=False`:
        an `ok` from before a freeze must not hide it, while a recent `down` is news enough."""
        with self._lock:
            now = time.monotonic()
            recent = now - self._answered_at <= self.reuse and self._answer is not None
            if recent and (reuse_ok or self._answer.down):
                return self._answer
            if self._running is None or self._running[1] <= now:
                self._running = (threading.Event(), now + self.budget)
                threading.Thread(target=self._run, args=self._running, name="database-probe", daemon=True).start()
            answered, deadline = self._running
        if answered.wait(max(0.0, deadline - time.monotonic())):
            with self._lock:
                return self._answer or DatabaseState("down", "no answer")
        answer = DatabaseState("down", f"no answer within {self.budget:g}s")
        with self._lock:
            if self._answered_at < deadline - self.budget:  # nothing newer than this probe has answered
                self._answer, self._answered_at = answer, time.monotonic()
        return answer

    def report(self, answer: DatabaseState) -> None:
        """Record an answer learnt elsewhere (a query that failed): shared like a probe's until it is `reuse` old."""
        with self._lock:
            self._answer, self._answered_at = answer, time.monotonic()

    def _run(self, answered: threading.Event, deadline: float) -> None:
        try:
            answer = self.ask()
        except Exception as exc:  # any failure to answer is the answer
            answer = DatabaseState("down", describe(exc), unavailable_reason(exc))
        with self._lock:
            self._answer, self._answered_at = answer, time.monotonic()
            if self._running is not None and self._running[0] is answered:
                self._running = None
        answered.set()


def ask_primary() -> DatabaseState:
    """`ok`, or `read_only` when the default database refuses writes."""
    return DatabaseState("read_only" if ask_read_only() else "ok")


def ask_read_only() -> bool:
    """Whether the server refuses writes (MySQL/MariaDB `read_only`); a round trip on this thread's own connection."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            if connection.vendor == "mysql":
                # read_only binds every user without SUPER (READ ONLY ADMIN), as the application's is;
                # MySQL's super_read_only switches read_only on as well.
                cursor.execute("SELECT @@global.read_only")
                return bool(cursor.fetchone()[0])
            cursor.execute("SELECT 1")
            cursor.fetchone()
            return False
    finally:
        connection.close()  # this thread's own connection: never left open


# The database must accept a connection and answer a SELECT within this long to count as up:
# well inside health's 1.5 s, and what a request that finds every slot taken waits at most.
PROBE_BUDGET = 0.75
probe = Probe(PROBE_BUDGET)


# --- migrate: the short timeouts are for serving requests, not for schema changes ----------

MIGRATE_TIMEOUT = 3600  # seconds; adding an index to a table of many million rows takes minutes
_saved_timeouts: dict[str, dict] = {}


def lengthen_timeouts_for_migrate(using: str = "default", **kwargs) -> None:
    """pre_migrate: reconnect with MIGRATE_TIMEOUT read/write timeouts.

    With the serving timeouts (seconds) the client would give up on a long ALTER
    that the server then finishes anyway, leaving it applied but unrecorded.
    """
    conn = connections[using]
    options = conn.settings_dict.get("OPTIONS", {})
    if conn.vendor != "mysql" or using in _saved_timeouts or conn.in_atomic_block:
        return
    _saved_timeouts[using] = {k: options[k] for k in ("read_timeout", "write_timeout") if k in options}
    options.update(read_timeout=MIGRATE_TIMEOUT, write_timeout=MIGRATE_TIMEOUT)
    conn.close()


def restore_timeouts_after_migrate(using: str = "default", **kwargs) -> None:
    """post_migrate: back to the serving timeouts (the test runner migrates, then serves in the same process)."""
    saved = _saved_timeouts.pop(using, None)
    if saved is None:
        return
    conn = connections[using]
    options = conn.settings_dict["OPTIONS"]
    if conn.in_atomic_block:
        _saved_timeouts[using] = saved  # not mid-transaction: on the next post_migrate
        return
    for key in ("read_timeout", "write_timeout"):
        options.pop(key, None)
    options.update(saved)
    conn.close()
