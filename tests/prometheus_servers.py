"""Private Prometheus and node_exporter processes on spare ports, for the Prometheus tests.

Debian's binaries (scripts/system-deps.sh prometheus), each with its own
configuration and data folder under the test's tmp_path; never the system
services. Each is a child in its own process group, stopped when the test ends.
"""

import json
import os
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from procs import closed_port, running, wait_for
from servers import need_program


@dataclass
class Prometheus:
    port: int
    log: Path

    def query(self, promql: str) -> list[dict]:
        """The instant vector of `promql` from the HTTP API (`data.result`)."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as answer:
            body = json.load(answer)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def targets_up(self) -> list[dict]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/targets", timeout=10) as answer:
            return json.load(answer)["data"]["activeTargets"]


def promtool_check(config: Path) -> str:
    """`promtool check config` of a file; AssertionError with its output when it is not valid."""
    promtool = need_program("promtool")
    done = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@contextmanager
def private_node_exporter(tmp_path: Path) -> Iterator[int]:
    """node_exporter on a spare loopback port; yields the port."""
    program = need_program("prometheus-node-exporter", "node_exporter")
    port = closed_port()
    log = tmp_path / "node_exporter.log"
    args = [program, f"--web.listen-address=127.0.0.1:{port}"]
    with running(args, {"PATH": os.environ.get("PATH", "")}, log):
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/metrics"), 30, "node_exporter to answer", log)
        yield port


@contextmanager
def private_prometheus(tmp_path: Path, config: str) -> Iterator[Prometheus]:
    """Prometheus with `config` (YAML), its data under tmp_path, on a spare port; ready when it says so."""
    program = need_program("prometheus")
    port = closed_port()
    folder = tmp_path / "prometheus"
    folder.mkdir()
    config_file = folder / "prometheus.yml"
    config_file.write_text(config)
    promtool_check(config_file)
    log = folder / "prometheus.log"
    args = [
        program,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(args, {"PATH": os.environ.get("PATH", "")}, log):
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/-/ready"), 60, "Prometheus to be ready", log)
        yield Prometheus(port, log)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False
