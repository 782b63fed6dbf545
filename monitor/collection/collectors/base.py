from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# A source's counter readings: counter name -> (value, at), `at` in seconds since
# the epoch on the clock of whoever read the counter (the host itself, the
# monitored server, the worker that answered). JSON turns the pairs into lists.
Counters = dict[str, tuple[float, float]]


@dataclass(frozen=True)
class Sample:
    """One reading, named by the README's convention (`family.metric[:dimension]`)."""

    name: str
    value: float
    description: str = ""


@dataclass(frozen=True)
class Collected:
    """What one read of a source gives: its samples, and the counter readings the next cycle's rates start from."""

    samples: list[Sample]
    counters: Counters = field(default_factory=dict)


class RateTracker:
    """Turns monotonically increasing counters into rates against the previous cycle's readings.

    `previous` is what the caller kept from the source's last stored cycle
    (collectors hold no state: any worker process, on any machine, may take
    the next cycle). Every reading made here is recorded in `current`, which
    the caller keeps for the next cycle; a counter not read this cycle (a
    server that is down, a disk that went away) is not carried over, so no
    rate ever spans more than one cycle.

    A counter with no previous reading yields no rate (nothing to compare
    with). One that went backwards (the source restarted or the counter
    wrapped) yields none for that cycle either: the difference would be a
    negative or absurdly large spike. Neither does a previous reading that
    is not older than this one (a clock stepped back).
    """

    def __init__(self, previous: Mapping[str, Sequence[float]] | None = None) -> None:
        self.previous = dict(previous or {})
        self.current: Counters = {}

    def rate(self, key: str, counter: float, at: float) -> float | None:
        """Increase per second since the previous reading of `key`, read at `at`."""
        change = self.delta(key, counter, at)
        if change is None:
            return None
        return change / (at - self.previous[key][1])

    def delta(self, key: str, counter: float, at: float) -> float | None:
        """The raw increase since the previous reading of `key` (same rules as `rate`)."""
        self.current[key] = (counter, at)
        before = self.previous.get(key)
        if before is None:
            return None
        old_counter, old_at = before
        if at <= old_at or counter < old_counter:
            return None
        return counter - old_counter


def rate_samples(tracker: RateTracker, at: float, counters: Sequence[tuple[str, float, str]]) -> list[Sample]:
    """A per-second sample for each (name, counter, what it counts) that has a rate this cycle."""
    samples = []
    for name, counter, description in counters:
        value = tracker.rate(name, float(counter), at)
        if value is not None:
            samples.append(Sample(name, value, f"{description}, per second"))
    return samples


def number(value: Any) -> float | None:
    """A status variable as a float, or None when the source did not report a number."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def gauge_samples(
    family: str, server: str, gauges: Sequence[tuple[str, str, str]], readings: Mapping[str, Any]
) -> list[Sample]:
    """`family.metric:server` for each (metric, variable, meaning) whose variable the server reported as a number."""
    samples = []
    for metric, variable, description in gauges:
        value = number(readings.get(variable))
        if value is not None:
            samples.append(Sample(f"{family}.{metric}:{server}", value, description))
    return samples
