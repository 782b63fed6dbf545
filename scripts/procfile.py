"""Run the Procfile's processes together; Ctrl-C stops each one gracefully.

`make run` uses this rather than honcho. honcho stops a process by signalling
its whole process group, so Celery's pool processes are killed under the
worker. A pool process killed while it holds the task queue's lock leaves the
worker waiting for that lock at exit (billiard's `_help_stuff_finish`) until
it is killed as well. Here each process gets SIGTERM on its own, as
`celery worker` expects, and its group gets SIGKILL only if it is still running
STOP_TIMEOUT seconds later. If one process exits by itself, the others are
stopped too, and the exit status is non-zero.

    python scripts/procfile.py [Procfile]
"""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

STOP_TIMEOUT = float(os.environ.get("PROCFILE_STOP_TIMEOUT", "10"))


def read_procfile(path: Path) -> list[tuple[str, str]]:
    """(name, command) for every `name: command` line; blank lines and comments are skipped."""
    entries = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not name.strip() or not command.strip():
            raise SystemExit(f"{path}: not a 'name: command' line: {line!r}")
        entries.append((name.strip(), command.strip()))
    return entries


def say(name: str, text: str, width: int) -> None:
    sys.stdout.write(f"{datetime.now():%H:%M:%S} {name:<{width}} | {text}\n")
    sys.stdout.flush()


def relay(proc: subprocess.Popen, name: str, width: int) -> None:
    for raw in proc.stdout:
        say(name, raw.decode(errors="replace").rstrip("\n"), width)


def start(name: str, command: str, width: int) -> tuple[subprocess.Popen, threading.Thread]:
    # `exec`: the process itself, not a shell around it, gets the SIGTERM. A new
    # session: the terminal's Ctrl-C reaches only this launcher, which decides.
    proc = subprocess.Popen(
        ["/bin/sh", "-c", f"exec {command}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    say("system", f"{name} started (pid={proc.pid})", width)
    relaying = threading.Thread(target=relay, args=(proc, name, width), daemon=True)
    relaying.start()
    return proc, relaying


def stop(started: dict[str, tuple[subprocess.Popen, threading.Thread]], width: int) -> None:
    procs = {name: proc for name, (proc, _) in started.items()}
    for name, proc in procs.items():
        if proc.poll() is None:
            say("system", f"sending SIGTERM to {name} (pid {proc.pid})", width)
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say("system", f"{name} still running after {STOP_TIMEOUT:g} s: sending SIGKILL", width)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # it, if still running, and whatever it left in its group
        except ProcessLookupError:
            pass
        proc.wait()
        started[name][1].join(timeout=2)  # the last lines it wrote
        say("system", f"{name} stopped (rc={proc.returncode})", width)


def main(argv: list[str]) -> int:
    entries = read_procfile(Path(argv[1] if len(argv) > 1 else "Procfile"))
    width = max(len("system"), *(len(name) for name, _ in entries))
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stopping.set())
    started = {name: start(name, command, width) for name, command in entries}
    procs = {name: proc for name, (proc, _) in started.items()}
    exited = None
    while not stopping.wait(0.2):
        exited = next((name for name, proc in procs.items() if proc.poll() is not None), None)
        if exited:
            say("system", f"{exited} exited (rc={procs[exited].returncode}): stopping the others", width)
            break
    else:
        say("system", "stopping (Ctrl-C)", width)
    stop(started, width)
    return 1 if exited else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
