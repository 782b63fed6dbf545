"""Rates from a worker with two pool processes, beat every second and collect-now in between.

Each process takes some of the cycles, so the counter readings a rate starts
from must come from the previous stored cycle of the same source, whichever
process (or machine) stored it. These tests run a real worker (--concurrency 2)
and beat, post collect-now in bursts, and check every stored cycle:

- the first cycle of a source stores no rates, every later one stores all of them;
- each rate is the counter change since the previous stored cycle over the time
  between the two: checked exactly against the readings kept in CounterState,
  which the test reads between cycles (and, for the host, summed over all cycles);
- collect-now cycles are full cycles, and both pool processes took cycles.
"""

import math
import os
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import psutil
import pytest

from db_django.celery import app as celery_app
from monitor.collection.collectors.mysql import RATE_COUNTERS as MYSQL_RATES
from monitor.collection.collectors.mysql import server_label as mysql_label
from monitor.collection.collectors.redis import RATE_COUNTERS as REDIS_RATES
from monitor.collection.collectors.redis import server_label as redis_label
from monitor.collection.tasks import QUEUE_SOURCE
from monitor.models import CollectionCycle, CounterState, Resource
from procs import beat_args, broker_at, child_env, running, wait_for, worker_args

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Rates: from counter differences between two cycles (README, "Metrics"); Redis'
# ops_per_second is the server's own instantaneous figure, a gauge.
RATE_NAME = re.compile(
    r"^cpu\.(\w+_)?percent$|^diskio\.busy_percent:|^(?!redis\.ops_per_second:).*_per_second(:|$)|_per_minute$"
)
HOST_RATES = {
    "cpu.percent",
    "cpu.user_percent",
    "cpu.system_percent",
    "cpu.iowait_percent",
    "cpu.steal_percent",
    "swap.in_bytes_per_second",
    "swap.out_bytes_per_second",
    "system.context_switches_per_second",
}
QUEUE_RATES = {"celery.tasks_succeeded_per_minute", "celery.tasks_failed_per_minute"}
POLL_SECONDS = 0.02


@dataclass
class Cycle:
    at: datetime
    values: dict[str, float] = field(default_factory=dict)

    @property
    def rates(self) -> set[str]:
        return {name for name in self.values if RATE_NAME.search(name)}


def stored_cycles(host: str) -> tuple[list[Cycle], list[Cycle]]:
    """The host's stored cycles, oldest first: host metrics, and server status."""
    by_time: dict[datetime, Cycle] = {}
    for at, name, value in Resource.objects.filter(host=host).values_list("timestamp", "name", "value"):
        by_time.setdefault(at, Cycle(at)).values[name] = value
    cycles = sorted(by_time.values(), key=lambda c: c.at)
    host_cycles = [c for c in cycles if "memory.total_bytes" in c.values]
    return host_cycles, [c for c in cycles if "celery.broker_up" in c.values]


class Readings:
    """Every CounterState version seen while polling: (source, key) -> {cycle timestamp: readings}."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], dict[datetime, dict]] = defaultdict(dict)

    def poll(self) -> None:
        for source, key, taken_at, readings in CounterState.objects.values_list(
            "source", "key", "taken_at", "readings"
        ):
            if readings:
                self.seen[(source, key)][taken_at] = readings

    def pairs(self, source: tuple[str, str], cycles: list[Cycle]) -> Iterator[tuple[Cycle, Cycle, dict, dict]]:
        """(previous cycle, cycle, their readings) for consecutive stored cycles whose readings were both seen."""
        seen = self.seen[source]
        for before, cycle in zip(cycles, cycles[1:], strict=False):
            if before.at in seen and cycle.at in seen:
                yield before, cycle, seen[before.at], seen[cycle.at]


@contextmanager
def filesystem_broker(var_dir) -> Iterator[None]:
    """Point this process's Celery app at the filesystem broker the worker under `var_dir` reads."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.broker_transport_options, conf.broker_transport, os.environ.get("CELERY_BROKER_URL")
    folders = {sub: var_dir / "broker" / sub for sub in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    conf.broker_url, conf.broker_transport = "filesystem://", "db_django.filesystem_broker:Transport"
    conf.broker_transport_options = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    os.environ["CELERY_BROKER_URL"] = "filesystem://"
    try:
        yield
    finally:
        conf.broker_url, conf.broker_transport_options, conf.broker_transport, env = saved
        if env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = env


# Host cycles come from beat here, as tasks the two pool processes share with the
# collect-now bursts; stopping beat then stops every kind of cycle, which the end of the
# run waits for (the worker's own host timer would keep storing cycles).
BEAT_SENDS_HOST_CYCLES = "0"


def run_with_collect_now(client, host: str, env: dict, tmp_path, seconds: float = 13.0) -> tuple[Readings, list[str]]:
    """Worker (2 pool processes) and beat at 1 s, collect-now bursts in between; returns readings seen, task ids."""
    readings, queued = Readings(), []
    # One at a time, two back to back (the two processes take one each), three at once.
    bursts = {2.3: 1, 4.6: 2, 7.1: 1, 9.4: 3}
    log = tmp_path / "worker.log"
    worker = worker_args(f"rates@{host}", "--concurrency", "2")
    with running(worker, env, log):
        with running(beat_args(tmp_path), env, tmp_path / "beat.log"):
            wait_for(lambda: CollectionCycle.objects.filter(host=host).exists(), 60, "a first cycle", log)
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < seconds:
                readings.poll()
                for due in [due for due in bursts if due <= elapsed]:
                    for _ in range(bursts.pop(due)):
                        response = client.post("/monitor/collect/")
                        assert response.status_code == 202, response.content
                        queued += response.json()["queued"]
                time.sleep(POLL_SECONDS)
        # Beat stopped: let the cycles already sent be stored, still watching the readings.
        count = -1
        while count != (count := CollectionCycle.objects.filter(host=host).count()):
            for _ in range(int(2.0 / POLL_SECONDS)):
                readings.poll()
                time.sleep(POLL_SECONDS)
    readings.poll()  # the last stored cycle's readings
    return readings, queued


# CPU times in /proc/stat advance in clock ticks: two cycles of a collect-now burst less
# than a few ticks apart can see no CPU time pass at all, and a share of no time is no
# figure (the collector stores none rather than 0/0).
CPU_SHARES = {name for name in HOST_RATES if name.startswith("cpu.")}
CPU_TICK_SECONDS = 1 / os.sysconf("SC_CLK_TCK")


# A worker that does not answer within a cycle's window (a loaded machine, a slow
# broker) is not counted that cycle: the cycle stores workers_online 0 and no task
# rates, and the next one has no reading of that worker to start a rate from.
MISSED_WINDOWS_ALLOWED = 2


def unheard(cycle: Cycle) -> bool:
    return cycle.values.get("celery.workers_online", 1.0) == 0


def assert_first_cycle_without_rates_then_every_rate(cycles: list[Cycle], expected: set[str], what: str) -> None:
    assert len(cycles) >= 8, f"only {len(cycles)} {what} cycles"
    assert not cycles[0].rates, f"first {what} cycle stored rates: {sorted(cycles[0].rates)}"
    missed = [cycle for cycle in cycles if unheard(cycle)]
    assert len(missed) <= MISSED_WINDOWS_ALLOWED, f"no worker answered in {len(missed)} of {len(cycles)} cycles"
    for number, (previous, cycle) in enumerate(zip(cycles, cycles[1:], strict=False), start=2):
        missing = expected - cycle.rates
        if (cycle.at - previous.at).total_seconds() < 3 * CPU_TICK_SECONDS:
            missing -= CPU_SHARES
        if unheard(cycle):
            assert not QUEUE_RATES & cycle.rates, f"{what} cycle {number}: task rates with no worker heard"
        if unheard(previous) or unheard(cycle):
            missing -= QUEUE_RATES
        assert not missing, f"{what} cycle {number} of {len(cycles)} ({cycle.at}) lacks {sorted(missing)}"


def assert_rates_span_the_previous_cycle(cycle: Cycle, before: dict, now: dict, names: set[str]) -> None:
    """Each rate = counter change since the previous stored cycle / the time between the two readings."""
    for name in names:
        (c0, t0), (c1, t1) = before[name], now[name]
        if c1 < c0:
            continue  # a reset: no rate (checked by the collector tests)
        assert cycle.values[name] == pytest.approx((c1 - c0) / (t1 - t0), rel=1e-9, abs=1e-9), name


def expected_host_rates() -> set[str]:
    nics = [nic for nic in psutil.net_io_counters(pernic=True) if nic != "lo"]
    return HOST_RATES | {f"net.{d}_bytes_per_second:{nic}" for nic in nics for d in ("rx", "tx")}


def check_host(host: str, readings: Readings, host_cycles: list[Cycle]) -> int:
    """Every host rate against the readings; returns how many cycle pairs were checked."""
    assert_first_cycle_without_rates_then_every_rate(host_cycles, expected_host_rates(), "host")
    source = ("host", host)
    # Host counters are dated by the cycle's own timestamp: the span is the time between the two cycles.
    for cycle in host_cycles:
        if cycle.at in readings.seen[source]:
            assert {t for _, t in readings.seen[source][cycle.at].values()} == {cycle.at.timestamp()}
    pairs = 0
    for _, cycle, before, now in readings.pairs(source, host_cycles):
        per_second = {n for n in cycle.rates if "_per_second" in n}
        assert_rates_span_the_previous_cycle(cycle, before, now, per_second)
        total, idle = (now[k][0] - before[k][0] for k in ("cpu.total", "cpu.idle"))
        if not total:  # no CPU time passed between the two readings: no share of it
            assert "cpu.percent" not in cycle.values
        else:
            busy = max(0.0, min(100.0, 100.0 * (total - idle) / total))
            assert cycle.values["cpu.percent"] == pytest.approx(busy, rel=1e-9, abs=1e-9)
        pairs += 1
    assert pairs >= 3, f"only {pairs} consecutive host cycles seen in CounterState"

    # Over every cycle, seen or not: the rates times the cycles' spans add up to the
    # counter's change from the first readings seen to the last stored ones.
    name = "system.context_switches_per_second"
    seen = readings.seen[source]
    first, last = min(seen), max(seen)
    assert last == host_cycles[-1].at
    summed = math.fsum(
        c.values[name] * (c.at.timestamp() - b.at.timestamp())
        for b, c in zip(host_cycles, host_cycles[1:], strict=False)
        if first < c.at <= last
    )
    assert summed == pytest.approx(seen[last][name][0] - seen[first][name][0], rel=1e-7)
    return pairs


def check_collect_now(queued: list[str], host: str, log_path) -> None:
    """Each collect-now task stored one full cycle; both pool processes took cycles."""
    stored = set(CollectionCycle.objects.filter(task_id__in=queued, host=host).values_list("task_id", flat=True))
    assert stored == set(queued), "a collect-now task stored nothing"
    log = log_path.read_text()
    processes = set(re.findall(r"/(ForkPoolWorker-\d+)\] Task monitor\.collection\.tasks\.collect_\w+\[", log))
    assert len(processes) == 2, f"cycles taken by {processes}: the test needs both pool processes"


def test_the_embedded_broker_stores_every_rate_from_the_second_cycle_with_two_pool_processes(client, tmp_path):
    host = "rates-embedded"
    env = child_env(
        tmp_path,
        CELERY_BROKER_URL="filesystem://",
        METRICS_INTERVAL="1",
        MONITOR_HOST_TIMER=BEAT_SENDS_HOST_CYCLES,
        MONITOR_HOSTNAME=host,
        MONITOR_MYSQL_URLS="",
        MONITOR_REDIS_URLS="",
    )
    with filesystem_broker(tmp_path):
        readings, queued = run_with_collect_now(client, host, env, tmp_path)
    host_cycles, server_cycles = stored_cycles(host)

    pairs = check_host(host, readings, host_cycles)
    assert_first_cycle_without_rates_then_every_rate(server_cycles, QUEUE_RATES, "server")
    check_collect_now(queued, host, tmp_path / "worker.log")
    print(f"\n{len(host_cycles)} host and {len(server_cycles)} server cycles, {pairs} host pairs checked exactly")


@pytest.mark.redis
@pytest.mark.mysql
def test_redis_and_mysql_store_every_rate_from_the_second_cycle_with_two_pool_processes(
    client, tmp_path, redis_url, mysql_url
):
    host = "rates-redis"
    env = child_env(
        tmp_path,
        CELERY_BROKER_URL=redis_url,
        METRICS_INTERVAL="1",
        MONITOR_HOST_TIMER=BEAT_SENDS_HOST_CYCLES,
        MONITOR_HOSTNAME=host,
        MONITOR_MYSQL_URLS=mysql_url,
        MONITOR_REDIS_URLS=redis_url,
    )
    with broker_at(redis_url):
        readings, queued = run_with_collect_now(client, host, env, tmp_path)
    host_cycles, server_cycles = stored_cycles(host)

    pairs = check_host(host, readings, host_cycles)
    mysql_source, redis_source = ("mysql", mysql_label(mysql_url)), ("redis", redis_label(redis_url))
    mysql_rates = {f"mysql.{metric}:{mysql_source[1]}" for metric, _, _ in MYSQL_RATES}
    redis_rates = {f"redis.{metric}:{redis_source[1]}" for metric, _, _ in REDIS_RATES}
    assert_first_cycle_without_rates_then_every_rate(server_cycles, mysql_rates | redis_rates | QUEUE_RATES, "server")
    server_pairs = 0
    for source, names in ((mysql_source, mysql_rates), (redis_source, redis_rates)):
        for previous, cycle, before, now in readings.pairs(source, server_cycles):
            assert_rates_span_the_previous_cycle(cycle, before, now, names)
            # The server's own clock dates its counters: its span is the time between the two cycles
            # (give or take the moments between starting a cycle and reading the server).
            (_, t0), (_, t1) = (readings[next(iter(names))] for readings in (before, now))
            assert t1 - t0 == pytest.approx((cycle.at - previous.at).total_seconds(), abs=0.5)
            server_pairs += 1
    for _, cycle, before, now in readings.pairs(QUEUE_SOURCE, server_cycles):
        per_minute = 60 * math.fsum(
            (now[k][0] - before[k][0]) / (now[k][1] - before[k][1])
            for k in now
            if k.startswith("celery.succeeded:") and k in before
        )
        assert cycle.values["celery.tasks_succeeded_per_minute"] == pytest.approx(per_minute, rel=1e-9)
    assert server_pairs >= 4, f"only {server_pairs} consecutive server cycles seen in CounterState"
    check_collect_now(queued, host, tmp_path / "worker.log")
    print(f"\n{len(host_cycles)} host and {len(server_cycles)} server cycles, {pairs} host pairs checked exactly")
