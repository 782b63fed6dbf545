"""Reads go to a MySQL read replica while it keeps up, and to the primary when it is down, frozen, lagging or stopped.

A private MariaDB primary and a replica of it (tests/servers.py), and the
production web process (gunicorn, tests/webserver.py) with DATABASE_URL at the
primary and DATABASE_REPLICA_URL at the replica, both as the application's own
user (no SUPER: read_only binds it on the replica). Which server answered is
read from the answers themselves: a "marker" series, sample, rollups and host
exist on the replica only (written there as root), so list, latest, series and
hosts show the marker exactly when the replica served them.
"""

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from monitor.storage.router import CHECK_BUDGET
from procs import wait_for
from servers import (
    MARIADB_DATABASE,
    MariaDBServer,
    replica_status,
    replicating_mariadb,
    replication_caught_up,
)
from webserver import Answer, Keys, Web, production_web, provision_app_user, seed

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.redis]

MAX_LAG = 2  # DATABASE_REPLICA_MAX_LAG of the web process, seconds
CHECK_INTERVAL = 1.0  # DATABASE_REPLICA_CHECK_INTERVAL
# A change of the replica's state shows in every worker's reads within its next check, plus room for a loaded machine.
NOTICED_WITHIN = CHECK_INTERVAL + 5
# Every worker's answer from before a change has expired this long after the first worker noticed it.
SETTLED_AFTER = CHECK_INTERVAL + CHECK_BUDGET

MARKER_SERIES = 2_000_000_000  # far above any id the primary hands out: its rows never collide with the marker's
MARKER_HOST = "replica-only"
MARKER_NAME = "replica.marker"
MARKER_MINUTE = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
READS = {
    "list": f"/monitor/resources/?{urlencode({'host': MARKER_HOST})}",
    "latest": f"/monitor/resources/latest/?{urlencode({'host': MARKER_HOST})}",
    "series": "/monitor/resources/series/?"
    + urlencode(
        {
            "name": MARKER_NAME,
            "host": MARKER_HOST,
            "since": MARKER_MINUTE.isoformat(),
            "until": (MARKER_MINUTE + timedelta(minutes=1)).isoformat(),
            "step": "60s",
        }
    ),
    "hosts": "/monitor/hosts/",
}


@dataclass
class Deployment:
    primary: MariaDBServer
    replica: MariaDBServer
    web: Web
    keys: Keys

    def read(self, path: str) -> Answer:
        return self.web.call("GET", path, token=self.keys.read)

    def served_by(self) -> dict[str, str]:
        """Which server answered each read: `replica` when it shows the marker, `primary` when it does not."""
        return {what: _source(what, self.read(path)) for what, path in READS.items()}

    def replica_sql(self, *statements: str) -> None:
        with self.replica.connect() as conn:
            for statement in statements:
                conn.cursor().execute(statement)

    def store(self, name: str, value: float) -> str:
        """POST one sample as an agent would; its id."""
        answer = self.web.call("POST", "/monitor/resources/", {"name": name, "value": value}, token=self.keys.write)
        assert answer.status == 201, answer
        return answer.body["id"]

    def values(self, name: str) -> list[float]:
        answer = self.read(f"/monitor/resources/?{urlencode({'name': name})}")
        assert answer.status == 200, answer
        return sorted(row["value"] for row in answer.body["results"])


def _source(what: str, answer: Answer) -> str:
    assert answer.status == 200, (what, answer)
    body = answer.body
    if what == "list":
        found = body["results"]
    elif what == "series":
        found = body["points"]
    elif what == "hosts":
        found = [host for host in body if host["name"] == MARKER_HOST]
    else:
        found = body
    return "replica" if found else "primary"


EVERYWHERE = {what: "replica" for what in READS}
NOWHERE = {what: "primary" for what in READS}


def plant_marker(replica: MariaDBServer) -> None:
    """A series with one sample, its minute rollup, its latest value and its host, on the replica only."""
    ts = int(MARKER_MINUTE.timestamp()) * 1_000_000
    key = hashlib.sha1(f"{MARKER_HOST}\0{MARKER_NAME}".encode()).hexdigest()
    with replica.connect(database=MARIADB_DATABASE) as conn:
        cursor = conn.cursor()
        cursor.execute(
            "INSERT INTO monitor_series (id, `key`, name, metric, host, labels, description, unit, first_seen)"
            " VALUES (%s, %s, %s, %s, %s, '{}', 'only on the replica', '', UTC_TIMESTAMP(6))",
            (MARKER_SERIES, key, MARKER_NAME, MARKER_NAME, MARKER_HOST),
        )
        cursor.execute("INSERT INTO monitor_sample (series_id, ts, value) VALUES (%s, %s, 42)", (MARKER_SERIES, ts))
        for step, bucket in ((60, ts // 1_000_000), (0, 0)):
            cursor.execute(
                "INSERT INTO monitor_rollup (series_id, step, bucket, count, sum, min, max, last, last_ts)"
                " VALUES (%s, %s, %s, 1, 42, 42, 42, 42, %s)",
                (MARKER_SERIES, step, bucket, ts),
            )
        cursor.execute(
            "INSERT INTO monitor_host (id, name, first_seen, last_seen) VALUES (%s, %s, UTC_TIMESTAMP(6),"
            " UTC_TIMESTAMP(6))",
            (MARKER_SERIES, MARKER_HOST),
        )
        conn.commit()


@pytest.fixture(scope="module")
def deployment(mariadb_template, tmp_path_factory, redis_database) -> Iterator[Deployment]:
    tmp_path = tmp_path_factory.mktemp("replica-reads")
    with replicating_mariadb(mariadb_template, tmp_path) as (primary, replica):
        database_url = provision_app_user(primary)  # the user and its grants replicate
        keys = seed(primary)
        wait_for(lambda: replication_caught_up(primary, replica), 30, "the replica to catch up")
        plant_marker(replica)
        replica_url = database_url.replace(f":{primary.port}/", f":{replica.port}/")
        with production_web(
            tmp_path,
            database_url,
            redis_database,
            DATABASE_REPLICA_URL=replica_url,
            DATABASE_REPLICA_MAX_LAG=str(MAX_LAG),
            DATABASE_REPLICA_CHECK_INTERVAL=str(CHECK_INTERVAL),
        ) as web:
            yield Deployment(primary, replica, web, keys)


@pytest.fixture
def replicating(deployment: Deployment) -> Deployment:
    """The deployment with its replica running, caught up and serving every read (each test leaves it so)."""
    d = deployment
    wait_for(lambda: d.served_by() == EVERYWHERE, 60, "reads to be served by the replica", d.web.log)
    time.sleep(SETTLED_AFTER)  # the workers that were not asked yet have checked again too
    wait_for(lambda: d.served_by() == EVERYWHERE, 60, "reads to be served by the replica", d.web.log)
    return d


def settled(d: Deployment, expected: dict[str, str], what: str, within: float) -> None:
    """Wait until the first reads show `expected`, then for every process to have noticed: all reads show it."""
    wait_for(lambda: d.served_by() == expected, within, what, d.web.log)
    time.sleep(SETTLED_AFTER)
    for _ in range(8):
        assert d.served_by() == expected


def test_list_latest_series_and_hosts_are_served_by_the_replica_and_writes_by_the_primary(replicating: Deployment):
    d = replicating
    # Every worker process, several times each: each asks the replica for itself.
    for _ in range(8):
        assert d.served_by() == EVERYWHERE
    # The write went to the primary (the replica is read-only for the application's user) and replicated back.
    sample_id = d.store("replica.written", 1.0)
    wait_for(lambda: d.values("replica.written") == [1.0], 10, "the write to reach the replica")
    assert d.served_by() == EVERYWHERE
    # Reading one sample by its id is the edits' read: the primary, where the marker does not exist.
    assert d.read(f"/monitor/resources/{sample_id}/").status == 200
    marker_id = f"{MARKER_SERIES}-{int(MARKER_MINUTE.timestamp()) * 1_000_000}"
    assert d.read(f"/monitor/resources/{marker_id}/").status == 404


def test_reads_go_to_the_primary_while_the_replica_lags_beyond_the_bound_and_come_back_when_it_catches_up(
    replicating: Deployment,
):
    d = replicating
    d.replica_sql("STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=3600", "START SLAVE")
    try:
        posted = time.monotonic()
        sample_id = d.store("replica.delayed", 7.0)
        stale = d.values("replica.delayed")
        if time.monotonic() - posted < MAX_LAG:
            # Within the bound the replica still serves, without the write: the read-your-writes caveat.
            assert stale == []
        # ... except reading the new sample by its id, which the primary answers.
        assert d.read(f"/monitor/resources/{sample_id}/").status == 200

        wait_for(lambda: d.served_by() == NOWHERE, MAX_LAG + NOTICED_WITHIN, "reads to leave the lagging replica")
        moved = time.monotonic() - posted
        settled(d, NOWHERE, "every read to leave the lagging replica", NOTICED_WITHIN)
        lag = replica_status(d.replica)["Seconds_Behind_Master"]
        assert lag is not None and lag > MAX_LAG
        assert d.values("replica.delayed") == [7.0]  # the primary has it
    finally:
        d.replica_sql("STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=0", "START SLAVE")
    settled(d, EVERYWHERE, "reads to return to the replica", NOTICED_WITHIN + 10)
    assert d.values("replica.delayed") == [7.0]  # and now the replica has it too
    assert "read replica lagging" in d.web.log_text()
    print(f"\nreads left the replica {moved:.1f}s after the write it delayed (bound {MAX_LAG}s)")


def test_reads_go_to_the_primary_while_the_replica_does_not_replicate(replicating: Deployment):
    d = replicating
    d.replica_sql("STOP SLAVE SQL_THREAD")
    try:
        settled(d, NOWHERE, "reads to leave the stopped replica", NOTICED_WITHIN)
    finally:
        d.replica_sql("START SLAVE SQL_THREAD")
    settled(d, EVERYWHERE, "reads to return to the replica", NOTICED_WITHIN)
    assert "read replica stopped (not replicating" in d.web.log_text()


def _timed_reads(d: Deployment, seconds: float) -> list[tuple[float, str, Answer]]:
    """Every read, over and over for `seconds`, from four clients at once: (started after, what, answer)."""
    began = time.monotonic()
    found: list = []

    def client() -> None:
        while time.monotonic() - began < seconds:
            for what, path in READS.items():
                found.append((time.monotonic() - began, what, d.read(path)))

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(60)
    return found


def test_reads_answer_from_the_primary_within_two_seconds_when_the_replica_is_killed(replicating: Deployment):
    d = replicating
    # Every worker thread holds a connection to the replica, as after real traffic.
    _timed_reads(d, 1.0)
    d.replica.proc.kill()
    d.replica.proc.wait(10)
    d.replica.proc = None
    try:
        reads = _timed_reads(d, 4.0)
        report = "\n".join(f"{at:.2f} {what}: {a.status} {a.seconds:.2f}s" for at, what, a in reads if a.seconds > 0.5)
        assert reads
        for _, what, answer in reads:
            assert answer.status == 200 and answer.seconds < 2.0, report
            assert _source(what, answer) == "primary"
    finally:
        d.replica.start()
    wait_for(lambda: d.served_by() == EVERYWHERE, 60, "reads to return to the restarted replica")
    slowest = max(a.seconds for _, _, a in reads)
    print(f"\nkilled replica: {len(reads)} reads, slowest {slowest:.2f}s")


def test_reads_answer_from_the_primary_when_the_replica_freezes(replicating: Deployment):
    d = replicating
    _timed_reads(d, 1.0)
    d.replica.freeze()
    try:
        reads = _timed_reads(d, 10.0)
    finally:
        d.replica.thaw()
    report = "\n".join(f"{at:.2f} {what}: {a.status} {a.seconds:.2f}s" for at, what, a in reads if a.seconds > 0.5)
    for _, _what, answer in reads:
        # At worst a read in flight waits out the replica connection's health ping (read timeout, 5 s) and a
        # reconnect (connect timeout, 1 s), then asks the primary.
        assert answer.status == 200 and answer.seconds < 8.0, report
    # Once each process's check has found the replica frozen, reads go straight to the primary.
    settled = [(what, a) for at, what, a in reads if at > 7.0]
    assert settled, report
    for what, answer in settled:
        assert _source(what, answer) == "primary" and answer.seconds < 1.0, report
    wait_for(lambda: d.served_by() == EVERYWHERE, 60, "reads to return to the thawed replica")
    slowest = max(a.seconds for _, _, a in reads)
    print(f"\nfrozen replica: {len(reads)} reads, slowest {slowest:.2f}s")
