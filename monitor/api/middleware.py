"""How much of the web process the database may hold: threads waiting on it, and time per API read.

A frozen database server holds every request that talks to it until the
connection's read timeout. `DatabaseSlots` lets at most DATABASE_REQUEST_SLOTS
requests of a process wait on it at once, so the other threads of a gthread
worker stay free for /monitor/health/ and for quick 503s. `StatementTimeLimit`
asks the server to stop any SELECT of an API request after
DATABASE_STATEMENT_TIMEOUT seconds, so a heavy read ends with a clear answer
instead of holding a thread.
"""

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse

from monitor.database import UNAVAILABLE, Fault, probe

from .errors import fault_response

HEALTH_PATH = "/monitor/health/"  # answers from its own bounded checks, never from a slot
# Between probes, a request waiting for a slot looks again this often.
SLOT_POLL = 0.25
# A database that answers but whose slots stay taken this long: answer 503 (busy) anyway.
SLOT_WAIT_LIMIT = 10.0


class DatabaseSlots:
    """At most DATABASE_REQUEST_SLOTS requests per process inside the application at once (0: no limit).

    A request that finds them all taken waits for one while the database
    answers, and gets a 503 as soon as the probe finds it does not (a frozen or
    dead server: within PROBE_BUDGET), instead of joining the requests already
    stuck on it. While the last probe (at most a second old) found it down,
    every request gets that 503 at once.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        count = settings.DATABASE_REQUEST_SLOTS
        self.slots = threading.BoundedSemaphore(count) if count else None
        self.count = count

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.slots is None or request.path == HEALTH_PATH:
            return self.get_response(request)
        known = probe.recent()
        if known is not None and known.down:
            return fault_response(request, Fault(UNAVAILABLE, f"Database unavailable: {known.answer}."))
        refusal = self._take_slot()
        if refusal is not None:
            return fault_response(request, refusal)
        try:
            return self.get_response(request)
        finally:
            self.slots.release()

    def _take_slot(self) -> Fault | None:
        """None once a slot is ours; the Fault to answer with if the database does not answer (or never frees one)."""
        if self.slots.acquire(blocking=False):
            return None
        deadline = time.monotonic() + SLOT_WAIT_LIMIT
        while time.monotonic() < deadline:
            state = probe.check()
            if state.down:
                return Fault(UNAVAILABLE, f"Database unavailable: {state.answer}.")
            if self.slots.acquire(timeout=SLOT_POLL):
                return None
        return Fault(UNAVAILABLE, f"Database busy: {self.count} requests of this process are waiting on it.")


class StatementTimeLimit:
    """Every SELECT of a request under /monitor/ runs with the server's own time limit (MySQL/MariaDB),
    on the primary and on the read replica alike."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.seconds = settings.DATABASE_STATEMENT_TIMEOUT
        # By vendor, not engine: TiDB's backend (django_tidb) is a "mysql" vendor too.
        self.aliases = [alias for alias in settings.DATABASES if connections[alias].vendor == "mysql"]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self.seconds or not request.path.startswith("/monitor/") or not self.aliases:
            return self.get_response(request)
        with ExitStack() as limits:
            for alias in self.aliases:
                limits.enter_context(connections[alias].execute_wrapper(self._limit))
            return self.get_response(request)

    def _limit(self, execute, sql: str, params, many: bool, context: dict):
        if not many and sql.lstrip()[:6].upper() == "SELECT":
            # From the handshake, not a query: a query here would come back through this wrapper.
            server = context["connection"].connection.get_server_info()
            sql = limited(sql, self.seconds, "mariadb" in server.lower())
        return execute(sql, params, many, context)


def limited(sql: str, seconds: float, mariadb: bool) -> str:
    """`sql` (a SELECT) with the server's statement time limit; only reads: MariaDB's applies to any statement."""
    if mariadb:
        return f"SET STATEMENT max_statement_time={seconds:g} FOR {sql}"
    # MySQL's optimizer hint, in milliseconds; it applies to SELECT only.
    head, tail = sql.lstrip()[:6], sql.lstrip()[6:]
    return f"{head} /*+ MAX_EXECUTION_TIME({max(1, round(seconds * 1000))}) */{tail}"
