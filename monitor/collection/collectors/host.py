"""Host metrics read with psutil (and /proc/stat where psutil has no call)."""

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from .base import Collected, Counters, RateTracker, Sample, rate_samples

# Filesystems with no real capacity to watch (kernel views, RAM-backed, images).
PSEUDO_FILESYSTEMS = frozenset(
    {
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "proc",
        "pstore",
        "ramfs",
        "rpc_pipefs",
        "securityfs",
        "squashfs",
        "sysfs",
        "tmpfs",
        "tracefs",
        "iso9660",
    }
)
# Block devices that are not disks: loopback images, RAM disks, optical drives.
VIRTUAL_DISK_PREFIXES = ("loop", "ram", "zram", "sr", "fd")
LOOPBACK_INTERFACES = frozenset({"lo"})

CPU_MODES = ("user", "system", "iowait", "steal")
PROC_STAT = Path("/proc/stat")
# The aggregate "cpu" line of /proc/stat, in psutil.cpu_times()'s names and order.
CPU_TIME_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def collect_host(previous: Counters | None = None, now: float | None = None) -> Collected:
    """Read every host metric once; rates against `previous`, the counters of the host's last cycle.

    `now` (seconds since the epoch, default: the clock now) is when the
    counters count as read: the caller passes its cycle's timestamp, so a
    rate's span is exactly the time between two stored cycles. Wall time, not
    the monotonic clock: the previous reading may come from another process.
    """
    now = time.time() if now is None else now
    tracker = RateTracker(previous)
    stat = KernelStat.read()
    samples: list[Sample] = []
    samples += _cpu(tracker, now, stat.cpu_times)
    samples += _memory(tracker, now)
    samples += _filesystems(psutil.disk_partitions(all=False))
    samples += _disk_io(tracker, now)
    samples += _network(tracker, now)
    samples += _processes(tracker, now, stat)
    samples.append(Sample("system.uptime_seconds", now - stat.boot_time, "seconds since boot"))
    return Collected(samples, tracker.current)


@dataclass(frozen=True)
class KernelStat:
    """What a cycle needs from /proc/stat, read once (psutil reads the file once per call, four calls a cycle).

    cpu_times holds psutil.cpu_times()'s fields, in seconds; running and
    blocked are None where the kernel does not say. Elsewhere than Linux,
    everything comes from psutil.
    """

    cpu_times: Mapping[str, float]
    context_switches: int
    boot_time: float
    running: int | None = None
    blocked: int | None = None

    @classmethod
    def read(cls, path: Path = PROC_STAT) -> "KernelStat":
        try:
            text = path.read_text()
        except OSError:
            return cls(psutil.cpu_times()._asdict(), psutil.cpu_stats().ctx_switches, psutil.boot_time())
        lines = {line.split(" ", 1)[0]: line for line in text.splitlines()}
        ticks = lines["cpu"].split()[1 : len(CPU_TIME_FIELDS) + 1]  # older kernels have fewer
        return cls(
            {name: int(value) / CLOCK_TICKS for name, value in zip(CPU_TIME_FIELDS, ticks, strict=False)},
            int(lines["ctxt"].split()[1]),
            float(lines["btime"].split()[1]),
            int(lines["procs_running"].split()[1]) if "procs_running" in lines else None,
            int(lines["procs_blocked"].split()[1]) if "procs_blocked" in lines else None,
        )


def _cpu(tracker: RateTracker, now: float, times: Mapping[str, float]) -> list[Sample]:
    load1, load5, load15 = os.getloadavg()
    cores = float(psutil.cpu_count() or 0)
    samples = [
        Sample("cpu.count", cores, "logical CPU cores"),
        Sample("load.1m", load1, "load average over 1 minute"),
        Sample("load.5m", load5, "load average over 5 minutes"),
        Sample("load.15m", load15, "load average over 15 minutes"),
    ]
    if cores:
        # What a load alert compares: the same threshold fits a 2-core and a 64-core host.
        samples.append(Sample("load.5m_per_cpu", load5 / cores, "5-minute load average per logical core"))
    # Percentages come from the change in CPU time since the last cycle, so the
    # figure covers the whole interval, not an instant.
    total = tracker.delta("cpu.total", sum(times.values()), now)
    idle = tracker.delta("cpu.idle", times["idle"] + times.get("iowait", 0.0), now)
    modes = {mode: tracker.delta(f"cpu.{mode}", times.get(mode, 0.0), now) for mode in CPU_MODES}
    if total and idle is not None:
        samples.append(Sample("cpu.percent", _clamp_percent(100.0 * (total - idle) / total), "CPU busy, all cores"))
        for mode, spent in modes.items():
            if spent is not None:
                samples.append(
                    Sample(f"cpu.{mode}_percent", _clamp_percent(100.0 * spent / total), f"CPU time in {mode}")
                )
    return samples


def _memory(tracker: RateTracker, now: float) -> list[Sample]:
    memory = psutil.virtual_memory()
    swap = psutil.swap_memory()
    samples = [
        Sample("memory.total_bytes", float(memory.total), "physical memory"),
        Sample("memory.available_bytes", float(memory.available), "memory available without swapping"),
        Sample("memory.used_bytes", float(memory.total - memory.available), "memory in use"),
        Sample("memory.used_percent", memory.percent, "memory in use, percent"),
        Sample("swap.total_bytes", float(swap.total), "swap space"),
        Sample("swap.used_bytes", float(swap.used), "swap in use"),
        Sample("swap.used_percent", swap.percent, "swap in use, percent"),
    ]
    samples += rate_samples(
        tracker,
        now,
        [("swap.in_bytes_per_second", swap.sin, "swapped in"), ("swap.out_bytes_per_second", swap.sout, "swapped out")],
    )
    return samples


def _filesystems(partitions: Iterable) -> list[Sample]:
    samples: list[Sample] = []
    seen: set[str] = set()
    for part in partitions:
        if part.fstype in PSEUDO_FILESYSTEMS or part.mountpoint in seen:
            continue
        seen.add(part.mountpoint)
        try:
            usage = psutil.disk_usage(part.mountpoint)
            stat = os.statvfs(part.mountpoint)
        except OSError:  # unmounted meanwhile, or no permission
            continue
        mount = part.mountpoint
        samples += [
            Sample(f"disk.total_bytes:{mount}", float(usage.total), f"size of {mount}"),
            Sample(f"disk.used_bytes:{mount}", float(usage.used), f"used on {mount}"),
            Sample(f"disk.free_bytes:{mount}", float(usage.free), f"free on {mount}"),
            Sample(f"disk.used_percent:{mount}", usage.percent, f"used on {mount}, percent"),
        ]
        if stat.f_files:
            used_inodes = stat.f_files - stat.f_ffree
            samples.append(
                Sample(
                    f"disk.inodes_used_percent:{mount}", 100.0 * used_inodes / stat.f_files, f"inodes used on {mount}"
                )
            )
    return samples


def _disk_io(tracker: RateTracker, now: float) -> list[Sample]:
    samples: list[Sample] = []
    counters = psutil.disk_io_counters(perdisk=True) or {}
    for disk, io in counters.items():
        if disk.startswith(VIRTUAL_DISK_PREFIXES):
            continue
        samples += rate_samples(
            tracker,
            now,
            [
                (f"diskio.read_bytes_per_second:{disk}", io.read_bytes, f"bytes read from {disk}"),
                (f"diskio.write_bytes_per_second:{disk}", io.write_bytes, f"bytes written to {disk}"),
                (f"diskio.read_ops_per_second:{disk}", io.read_count, f"read operations on {disk}"),
                (f"diskio.write_ops_per_second:{disk}", io.write_count, f"write operations on {disk}"),
            ],
        )
        busy_ms = getattr(io, "busy_time", None)
        if busy_ms is not None:
            busy = tracker.rate(f"diskio.busy:{disk}", busy_ms, now)
            if busy is not None:
                # busy_time is in milliseconds: ms busy per second / 10 = percent.
                samples.append(
                    Sample(f"diskio.busy_percent:{disk}", _clamp_percent(busy / 10.0), f"time {disk} was busy")
                )
    return samples


def _network(tracker: RateTracker, now: float) -> list[Sample]:
    samples: list[Sample] = []
    for nic, io in (psutil.net_io_counters(pernic=True) or {}).items():
        if nic in LOOPBACK_INTERFACES:
            continue
        samples += rate_samples(
            tracker,
            now,
            [
                (f"net.rx_bytes_per_second:{nic}", io.bytes_recv, f"bytes received on {nic}"),
                (f"net.tx_bytes_per_second:{nic}", io.bytes_sent, f"bytes sent on {nic}"),
                (f"net.rx_packets_per_second:{nic}", io.packets_recv, f"packets received on {nic}"),
                (f"net.tx_packets_per_second:{nic}", io.packets_sent, f"packets sent on {nic}"),
                (f"net.rx_errors_per_second:{nic}", io.errin, f"receive errors on {nic}"),
                (f"net.tx_errors_per_second:{nic}", io.errout, f"transmit errors on {nic}"),
                (f"net.rx_drops_per_second:{nic}", io.dropin, f"received packets dropped on {nic}"),
                (f"net.tx_drops_per_second:{nic}", io.dropout, f"outgoing packets dropped on {nic}"),
            ],
        )
    return samples


def _processes(tracker: RateTracker, now: float, stat: KernelStat) -> list[Sample]:
    samples = [Sample("processes.total", float(len(psutil.pids())), "processes")]
    if stat.running is not None:
        samples.append(Sample("processes.running", float(stat.running), "processes runnable"))
    if stat.blocked is not None:
        samples.append(Sample("processes.blocked", float(stat.blocked), "processes blocked on I/O"))
    samples += rate_samples(
        tracker, now, [("system.context_switches_per_second", stat.context_switches, "context switches")]
    )
    return samples


def _clamp_percent(value: float) -> float:
    return max(0.0, min(100.0, value))
