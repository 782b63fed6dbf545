"""prometheus-client's multiprocess mode for gunicorn: every worker's counters, added up at each scrape.

gunicorn runs several worker processes and a scrape reaches one of them; each
would report only its own requests. With PROMETHEUS_MULTIPROC_DIR set before
the workers start, prometheus-client keeps each process's values in files
there and /monitor/metrics sums them (MultiProcessCollector). deploy/gunicorn.conf.py
calls `prepare` in the master (a fresh folder under VAR_DIR unless the
variable is set) and `worker_exited` when a worker ends, so its gauges go
with it. Without gunicorn (runserver, tests) one process answers for itself.
No Django here: the gunicorn master imports it before the app.
"""

import os
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def prepare(var_dir: str | None = None) -> str:
    """Make PROMETHEUS_MULTIPROC_DIR exist and hold no files of an earlier run; returns it."""
    folder = os.environ.get(VARIABLE) or str(Path(os.environ.get("VAR_DIR") or var_dir or "var") / "prometheus")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink(missing_ok=True)
    os.environ[VARIABLE] = str(path.resolve())
    return os.environ[VARIABLE]


def worker_exited(pid: int) -> None:
    """A worker ended: drop its live gauges (counters stay counted)."""
    if os.environ.get(VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
