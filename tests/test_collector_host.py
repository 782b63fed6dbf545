"""Host collector: values agree with the kernel's own files; rates are sane."""

import os
import time
from pathlib import Path

import pytest

from monitor.collection.collectors import RateTracker
from monitor.collection.collectors.host import collect_host

linux_only = pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="reads /proc")


def by_name(samples):
    return {s.name: s.value for s in samples}


def meminfo_kib(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


@linux_only
def test_memory_figures_match_proc_meminfo():
    values = by_name(collect_host(RateTracker()))
    assert values["memory.total_bytes"] == meminfo_kib("MemTotal") * 1024
    assert values["memory.available_bytes"] == pytest.approx(meminfo_kib("MemAvailable") * 1024, rel=0.05)
    assert 0 <= values["memory.used_percent"] <= 100


@linux_only
def test_load_and_cpu_count_match_the_kernel():
    values = by_name(collect_host(RateTracker()))
    load1 = float(Path("/proc/loadavg").read_text().split()[0])
    assert values["load.1m"] == pytest.approx(load1, abs=0.5)
    assert values["cpu.count"] == os.cpu_count()


def test_root_filesystem_usage_matches_statvfs():
    values = by_name(collect_host(RateTracker()))
    stat = os.statvfs("/")
    assert values["disk.total_bytes:/"] == stat.f_blocks * stat.f_frsize


def test_rates_appear_on_the_second_cycle_and_are_never_negative():
    tracker = RateTracker()
    first = by_name(collect_host(tracker))
    assert "cpu.percent" not in first
    time.sleep(0.3)
    second = collect_host(tracker)
    names = {s.name for s in second}
    assert "cpu.percent" in names and "system.context_switches_per_second" in names
    assert all(s.value >= 0 for s in second)
    assert all(0 <= s.value <= 100 for s in second if s.name.endswith("_percent") or "_percent:" in s.name)


def test_a_counter_reset_yields_no_rate_rather_than_a_spike():
    tracker = RateTracker()
    collect_host(tracker)
    # Pretend every counter was huge last cycle: as after a reboot or a wrap.
    tracker.previous = {k: (1e18, t) for k, (_, t) in tracker.previous.items()}
    time.sleep(0.1)
    samples = collect_host(tracker)
    names = {s.name for s in samples}
    assert not any("_per_second" in n for n in names)
    assert "cpu.percent" not in names
    assert all(s.value >= 0 for s in samples)


def test_pseudo_filesystems_and_loopback_are_left_out():
    names = {s.name for s in collect_host(RateTracker())} | {s.name for s in collect_host(RateTracker())}
    assert not any(n.endswith(":/proc") or n.endswith(":/sys") or ":/dev/shm" in n for n in names)
    assert not any(n.endswith(":lo") for n in names)


def test_the_rate_tracker_divides_by_elapsed_time():
    tracker = RateTracker()
    assert tracker.rate("x", 100, now=10.0) is None
    assert tracker.rate("x", 150, now=12.0) == 25.0
    assert tracker.rate("x", 10, now=13.0) is None  # reset
    assert tracker.rate("x", 40, now=14.0) == 30.0
