"""Calls with a hard time budget: what lets health, status and "collect now" answer in bounded time."""

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(Exception):
    """The call did not finish within its time budget."""


def call_within(timeout: float, call: Callable[[], T]) -> T:
    """Run `call` in a daemon thread and wait at most `timeout` seconds for it.

    Returns its result or raises its exception; raises DeadlineExceeded if it
    is still running. A call left running ends on its own socket timeouts.
    """
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="deadline-call", daemon=True)
    thread.start()
    thread.join(timeout)
    if "error" in outcome:
        raise outcome["error"]
    if "result" not in outcome:
        raise DeadlineExceeded(f"no answer within {timeout:.1f}s")
    return outcome["result"]


def describe(exc: Exception) -> str:
    """One short line naming an error, for logs and JSON answers."""
    return f"{type(exc).__name__}: {exc}"[:300]
