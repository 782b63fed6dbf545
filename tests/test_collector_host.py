"""Host collector: values agree with the kernel's own files; rates are sane."""

import os
import time
from pathlib import Path

import pytest

from monitor.collection.collectors import RateTracker
from monitor.collection.collectors.host import KernelStat, collect_host

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
    values = by_name(collect_host().samples)
    assert values["memory.total_bytes"] == meminfo_kib("MemTotal") * 1024
    assert values["memory.available_bytes"] == pytest.approx(meminfo_kib("MemAvailable") * 1024, rel=0.05)
    assert 0 <= values["memory.used_percent"] <= 100


@linux_only
def test_load_and_cpu_count_match_the_kernel():
    values = by_name(collect_host().samples)
    load1 = float(Path("/proc/loadavg").read_text().split()[0])
    assert values["load.1m"] == pytest.approx(load1, abs=0.5)
    assert values["cpu.count"] == os.cpu_count()


def test_root_filesystem_usage_matches_statvfs():
    values = by_name(collect_host().samples)
    stat = os.statvfs("/")
    assert values["disk.total_bytes:/"] == stat.f_blocks * stat.f_frsize


def test_rates_appear_on_the_second_cycle_and_are_never_negative():
    first = collect_host()
    assert "cpu.percent" not in by_name(first.samples)
    time.sleep(0.3)
    second = collect_host(first.counters).samples
    names = {s.name for s in second}
    assert "cpu.percent" in names and "system.context_switches_per_second" in names
    assert all(s.value >= 0 for s in second)
    assert all(0 <= s.value <= 100 for s in second if s.name.endswith("_percent") or "_percent:" in s.name)


def test_each_rate_spans_exactly_the_time_between_the_two_cycles():
    first = collect_host(now=1_000_000.0)
    time.sleep(0.2)
    second = collect_host(first.counters, now=1_000_002.5)
    rates = {s.name: s.value for s in second.samples if "_per_second" in s.name}
    assert "system.context_switches_per_second" in rates
    for name, value in rates.items():
        (before, t0), (after, t1) = first.counters[name], second.counters[name]
        assert (t0, t1) == (1_000_000.0, 1_000_002.5)
        assert value == (after - before) / 2.5, name


def test_a_counter_reset_yields_no_rate_rather_than_a_spike():
    first = collect_host()
    # Pretend every counter was huge last cycle: as after a reboot or a wrap.
    previous = {k: (1e18, t) for k, (_, t) in first.counters.items()}
    time.sleep(0.1)
    samples = collect_host(previous).samples
    names = {s.name for s in samples}
    assert not any("_per_second" in n for n in names)
    assert "cpu.percent" not in names
    assert all(s.value >= 0 for s in samples)


def test_readings_no_newer_than_the_previous_ones_give_no_rate():
    # The wall clock stepped back between two cycles: no span, so no rate.
    first = collect_host(now=2_000_000.0)
    time.sleep(0.1)
    names = {s.name for s in collect_host(first.counters, now=1_999_999.0).samples}
    assert not any("_per_second" in n for n in names)
    assert "cpu.percent" not in names


def test_pseudo_filesystems_and_loopback_are_left_out():
    first = collect_host()
    names = {s.name for s in first.samples} | {s.name for s in collect_host(first.counters).samples}
    assert not any(n.endswith(":/proc") or n.endswith(":/sys") or ":/dev/shm" in n for n in names)
    assert not any(n.endswith(":lo") for n in names)


def test_the_rate_tracker_divides_by_elapsed_time():
    tracker = RateTracker()
    assert tracker.rate("x", 100, at=10.0) is None
    tracker = RateTracker(tracker.current)
    assert tracker.rate("x", 150, at=12.0) == 25.0
    tracker = RateTracker(tracker.current)
    assert tracker.rate("x", 10, at=13.0) is None  # reset
    tracker = RateTracker(tracker.current)
    assert tracker.rate("x", 40, at=14.0) == 30.0


def test_a_tracker_keeps_only_the_counters_read_this_cycle():
    # A disk or interface that went away, or a server that was down, leaves
    # nothing behind: its next reading starts afresh rather than spanning the gap.
    tracker = RateTracker({"gone": (5.0, 1.0), "kept": (1.0, 1.0)})
    assert tracker.rate("kept", 3.0, at=2.0) == 2.0
    assert tracker.current == {"kept": (3.0, 2.0)}


@linux_only
def test_one_read_of_proc_stat_gives_what_psutil_gives_in_four():
    import psutil

    before, stat, after = psutil.cpu_times()._asdict(), KernelStat.read(), psutil.cpu_times()._asdict()
    assert list(stat.cpu_times) == list(before)
    for field, seconds in stat.cpu_times.items():
        assert before[field] <= seconds <= after[field]
    assert stat.boot_time == psutil.boot_time()
    assert 0 < stat.context_switches <= psutil.cpu_stats().ctx_switches
    assert stat.running is not None and stat.running >= 1 and stat.blocked is not None
