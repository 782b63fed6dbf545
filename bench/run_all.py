"""Every benchmark, one after the other, each in its own process; the figures go to $BENCH_OUT (JSON, logs).

    .venv/bin/python bench/run_all.py [--only ingest,post_one,...] [--skip collector_cost,dashboard]

Each script prepares its own bench_* database (the 10M-sample data set is loaded
the first time: about 90 s, and the old layout's 10M rows for storage.py:
about 2 min), starts and stops its own servers, and measures. The commands are
those BENCHMARKS.md quotes beside each figure. Output of each: $BENCH_OUT/<name>.log.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import harness

HERE = Path(__file__).resolve().parent
# (name, arguments): in the order BENCHMARKS.md reports them.
BENCHMARKS = [
    ("storage", []),
    ("ingest", []),
    ("post_one", []),
    ("series", []),
    ("latest", []),
    ("list_pages", []),
    ("prune", []),
    ("migrate_copy", []),
    ("memory", []),
    ("exposition", []),
    ("remote_write", []),
    ("row_format", []),
    ("line_protocol", []),
    ("dashboard", ["all", "--days", "2", "--raw-days", "1"]),
    ("collector_cost", ["--seconds", "30", "--runs", "3"]),
    ("queue_probe_broadcast", []),
    ("write_cost", []),
    ("load", []),
]


def main(only: set[str] | None, skip: set[str]) -> int:
    info = harness.machine()
    harness.log("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    harness.save("machine", info)
    failed = []
    for name, args in BENCHMARKS:
        if (only and name not in only) or name in skip:
            continue
        log = harness.OUT_DIR / f"{name}.log"
        command = [sys.executable, str(HERE / f"{name}.py"), *args]
        harness.log(f"== {' '.join(command[1:])} (log: {log})")
        started = time.perf_counter()
        with open(log, "w") as out:
            code = subprocess.run(command, cwd=HERE.parent, stdout=out, stderr=subprocess.STDOUT).returncode
        harness.log(f"   {'ok' if code == 0 else f'FAILED ({code})'} in {time.perf_counter() - started:.0f} s")
        if code:
            failed.append(name)
    if failed:
        harness.log(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated names")
    parser.add_argument("--skip", default="", help="comma-separated names")
    args = parser.parse_args()
    names = {name for name, _ in BENCHMARKS}
    only = set(args.only.split(",")) if args.only else None
    skip = set(filter(None, args.skip.split(",")))
    unknown = ((only or set()) | skip) - names
    if unknown:
        parser.error(f"unknown: {', '.join(sorted(unknown))}")
    sys.exit(main(only, skip))
