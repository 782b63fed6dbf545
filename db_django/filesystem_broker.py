"""The embedded broker: kombu's filesystem transport, quick to notice a worker shutdown.

On this transport Celery's worker runs a blocking loop that waits up to 2 s for
a message, and after SIGTERM it runs that wait once more before stopping
(`celery.worker.loops.synloop`): up to 4 s added to every `make run` Ctrl-C.
Here a wait is made of short slices and ends early once this process's worker
has been asked to stop. Other callers see no difference: `celery inspect`
still listens for its whole timeout. Selected by `CELERY_BROKER_TRANSPORT` in
embedded mode only.
"""

import time
from pathlib import Path

from celery.worker import state as worker_state
from kombu.transport import filesystem

SLICE_SECONDS = 0.25


def transport_options(folder: Path) -> dict:
    """Transport options for a broker kept in `folder`, whose subfolders are created here.

    One folder for every queue's messages (kombu's in and out are the same
    place when all processes share a machine), one for the exchanges' binding
    tables (broadcast and remote control), one for files that could not be
    read as messages.
    """
    folders = {name: folder / name for name in ("queue", "processed", "control", "quarantine")}
    for path in folders.values():
        path.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "quarantine_folder": str(folders["quarantine"]),
        "store_processed": False,
        # Replies to inspect must arrive well inside the status time budget.
        "polling_interval": 0.1,
    }


def _worker_stopping() -> bool:
    # The flags hold an exit code once set, and 0 is the usual one: test identity, as celery does.
    return any(
        flag is not None and flag is not False for flag in (worker_state.should_stop, worker_state.should_terminate)
    )


class Transport(filesystem.Transport):
    def drain_events(self, connection, timeout: float | None = None):
        if timeout is None:  # block until a message comes, as kombu does
            return super().drain_events(connection)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                return super().drain_events(connection, timeout=max(0.0, min(remaining, SLICE_SECONDS)))
            except TimeoutError:  # socket.timeout is an alias of it
                if remaining <= SLICE_SECONDS or _worker_stopping():
                    raise
