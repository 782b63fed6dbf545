"""When one of `make run`'s processes dies, the launcher stops the rest and says which and why.

A web server left answering while its worker is dead would take requests for
collections that never run; stopping everything, as honcho and foreman do, makes
the failure impossible to miss. The others' shutdown lines follow the dead
process's last words, so those are repeated at the very end.
"""

import subprocess
import sys

from procs import ROOT

PROCFILE = """\
steady: sleep 30
dying: sh -c 'echo starting; echo "ValueError: the reason it died"; exit 3'
"""


def test_a_process_that_exits_stops_the_others_and_its_last_lines_end_the_output(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text(PROCFILE)
    launcher = subprocess.run(
        [sys.executable, "scripts/procfile.py", str(procfile)], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    lines = launcher.stdout.splitlines()
    assert launcher.returncode == 1
    assert any("steady stopped" in line for line in lines), launcher.stdout
    summary = next(i for i, line in enumerate(lines) if "dying exited by itself (exit code 3)" in line)
    assert summary > max(i for i, line in enumerate(lines) if "steady stopped" in line), "the summary comes last"
    assert "ValueError: the reason it died" in lines[-1], launcher.stdout


def test_a_process_killed_by_a_signal_is_named_with_the_signal(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("steady: sleep 30\nkilled: sh -c 'kill -KILL $$'\n")
    launcher = subprocess.run(
        [sys.executable, "scripts/procfile.py", str(procfile)], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert launcher.returncode == 1
    assert "killed exited by itself (killed by SIGKILL)" in launcher.stdout, launcher.stdout
