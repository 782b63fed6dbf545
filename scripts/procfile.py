"""Run the Procfile's processes together; Ctrl-C stops each one gracefully.

`make run` uses this rather than honcho. honcho stops a process by signalling
its whole process group, so Celery's pool processes are killed under the
worker. A pool process killed while it holds the task queue's lock leaves the
worker waiting for that lock at exit (billiard's `_help_stuff_finish`) until
it is killed as well. Here each process gets SIGTERM on its own, as
`celery worker` expects, and its group gets SIGKILL only if it is still running
STOP_TIMEOUT seconds later. If one process exits by itself, the others are
stopped too, as honcho and foreman do: a web server left answering while the
worker is dead would accept collections that never run. The exit status is
then non-zero, and the dead process's last lines are repeated at the very end,
after the others' shutdown lines that would otherwise bury the reason.

    python scripts/procfile.py [Procfile]
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from datetime import datetime
from pathlib import Path

STOP_TIMEOUT = float(os.environ.get("PROCFILE_STOP_TIMEOUT", "10"))
LAST_LINES = 20  # of a process that died, shown again at the end: a Python traceback's usual length


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


def relay(proc: subprocess.Popen, name: str, width: int, last: deque) -> None:
    for raw in proc.stdout:
        line = raw.decode(errors="replace").rstrip("\n")
        last.append(line)
        say(name, line, width)


def describe(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def start(name: str, command: str, width: int, last: deque) -> tuple[subprocess.Popen, threading.Thread]:
    # `exec`: the process itself, not a shell around it, gets the SIGTERM. A new
    # session: the terminal's Ctrl-C reaches only this launcher, which decides.
    proc = subprocess.Popen(
        ["/bin/sh", "-c", f"exec {command}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    say("system", f"{name} started (pid={proc.pid})", width)
    relaying = threading.Thread(target=relay, args=(proc, name, width, last), daemon=True)
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
    last = {name: deque(maxlen=LAST_LINES) for name, _ in entries}
    started = {name: start(name, command, width, last[name]) for name, command in entries}
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
    if not exited:
        return 0
    say("system", f"{exited} exited by itself ({describe(procs[exited].returncode)}); its last lines:", width)
    for line in last[exited]:
        say(exited, line, width)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
