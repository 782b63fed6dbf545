"""The embedded broker: kombu's filesystem transport, safe under concurrent use and quick to stop.

`make run` has the web process, beat and the worker's pool processes writing
into one folder while the worker's main process reads it. kombu 5.7's transport
is changed here where that went wrong (issue 10):

1. A message appears whole. kombu creates the file in the queue folder and then
   writes it; a reader that lists the folder in between takes the empty file,
   fails with JSONDecodeError, and the worker exits. Here it is written under a
   name kombu's readers skip (a leading dot) and renamed into place: a rename
   within one folder is atomic, so a reader sees no file or all of it.
2. Reading never stops a worker. kombu claims a message by moving it to the
   system temp folder, a copy when that is another filesystem, and raises on a
   file it cannot decode. Here a reader claims a file by renaming it inside the
   queue folder (exactly one reader wins), and a file that is not a message is
   logged and moved to the quarantine folder, and the next one is read.
3. An exchange's table (which queues a direct exchange, a broadcast or remote
   control reaches; the control folder) is rewritten whole under a lock file of
   its own. kombu creates the table and then writes it, so two processes
   binding at once could each truncate the other's binding, or a publisher read
   it empty.
4. A worker notices a shutdown within a fraction of a second. On this transport
   Celery's worker waits up to 2 s for a message, and after SIGTERM it runs
   that wait once more before stopping (`celery.worker.loops.synloop`): up to
   4 s added to every `make run` Ctrl-C. Here a wait is made of short slices and
   ends early once this process's worker has been asked to stop; `celery
   inspect` still listens for its whole timeout.

Selected by `CELERY_BROKER_TRANSPORT` in embedded mode only. Message and table
files keep kombu's names and format.
"""

import contextlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from queue import Empty

from celery.worker import state as worker_state
from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property

logger = logging.getLogger(__name__)

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


def write_whole(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader finds either no file or all of it."""
    # kombu's readers take only names whose part after the first dot is "<queue>.msg".
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


def decode_message(raw: bytes) -> dict | None:
    """The message in a file's bytes, or None when they are not one kombu can deliver."""
    try:
        payload = loads(bytes_to_str(raw))
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return None
    if not isinstance(payload, dict):
        return None
    properties = payload.get("properties")
    return payload if isinstance(properties, dict) and "delivery_tag" in properties else None


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put a message on `queue`: kombu's file name (its order and its queue), written whole."""
        name = f"{int(round(time.monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        try:
            write_whole(Path(self.data_folder_out) / name, str_to_bytes(dumps(payload)))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc

    def _get(self, queue):
        """The oldest message of `queue`; a file that is not a message is set aside, not raised."""
        wanted = f"{queue}.msg"
        folder = Path(self.data_folder_in)
        for name in sorted(os.listdir(folder)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = self.claim_folder / name
            try:
                os.rename(folder / name, claimed)  # of several readers, one gets it
            except OSError:  # another reader took it
                continue
            try:
                raw = claimed.read_bytes()
            except OSError as exc:
                raise ChannelError(f"Cannot read file {str(claimed)!r} from queue.") from exc
            message = decode_message(raw)
            if message is None:
                self._set_aside(claimed, len(raw))
                continue
            if self.store_processed:
                shutil.move(claimed, Path(self.processed_folder) / name)
            else:
                claimed.unlink()
            return message
        raise Empty()

    def _set_aside(self, path: Path, size: int) -> None:
        target = Path(self.quarantine_folder) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
        logger.error("embedded broker: %s (%d bytes) is not a message; moved to %s", path.name, size, target)

    @cached_property
    def claim_folder(self) -> Path:
        # Inside the queue folder: the same filesystem, so the claiming rename is atomic;
        # a leading dot, so readers skip it.
        folder = Path(self.data_folder_in) / ".claimed"
        folder.mkdir(exist_ok=True)
        return folder

    @cached_property
    def quarantine_folder(self) -> str:
        return self.transport_options.get("quarantine_folder") or os.path.join(self.data_folder_in, ".quarantine")

    # --- exchange tables (control folder) ---------------------------------------

    def get_table(self, exchange):
        return self._read_table(self._exchange_file(exchange))

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._change_table(exchange, lambda table: table if binding in table else [binding, *table])

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        # kombu's filesystem _delete rewrites the table in place: skip to the virtual one (purges the queue).
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._change_table(exchange, lambda table: [b for b in table if b != binding])

    def _change_table(self, exchange: str, change: Callable[[list], list]) -> None:
        with self._table_lock(exchange) as file:
            table = self._read_table(file)
            changed = change(table)
            if changed != table:
                try:
                    write_whole(file, str_to_bytes(dumps(changed)))
                except OSError as exc:
                    raise ChannelError(f"Cannot write {file}") from exc

    @contextlib.contextmanager
    def _table_lock(self, exchange: str) -> Iterator[Path]:
        """The exchange's table file, for as long as this process alone may change it."""
        file = self._exchange_file(exchange)
        file.parent.mkdir(parents=True, exist_ok=True)
        # Not the table itself: it is replaced on every change, and a lock on a replaced file locks nothing.
        with open(file.with_name(f".{file.name}.lock"), "ab") as lock_file:
            filesystem.lock(lock_file, filesystem.LOCK_EX)
            try:
                yield file
            finally:
                filesystem.unlock(lock_file)

    @staticmethod
    def _read_table(file: Path) -> list:
        try:
            raw = file.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc
        try:
            return [filesystem.exchange_queue_t(*binding) for binding in loads(bytes_to_str(raw))]
        except (ValueError, TypeError):
            # Only an older writer leaves one: its bindings are lost either way, and the
            # processes that made them bind again when they start.
            logger.error("embedded broker: %s is not an exchange table (%d bytes); read as empty", file, len(raw))
            return []


class Transport(filesystem.Transport):
    Channel = Channel

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
