from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sample:
    """One reading, named by the README's convention (`family.metric[:dimension]`)."""

    name: str
    value: float
    description: str = ""


@dataclass
class RateTracker:
    """Turns monotonically increasing counters into per-second rates.

    The first reading of a counter yields no rate (nothing to compare with). A
    counter that went backwards (the source restarted or the counter wrapped)
    also yields none for that cycle: reporting the difference would be a
    negative or absurdly large spike.
    """

    previous: dict[str, tuple[float, float]] = field(default_factory=dict)

    def rate(self, key: str, counter: float, now: float) -> float | None:
        before = self.previous.get(key)
        self.previous[key] = (counter, now)
        if before is None:
            return None
        old_counter, old_time = before
        elapsed = now - old_time
        if elapsed <= 0 or counter < old_counter:
            return None
        return (counter - old_counter) / elapsed

    def delta(self, key: str, counter: float) -> float | None:
        """The raw increase since the last reading (same reset rules as `rate`)."""
        before = self.previous.get(key)
        self.previous[key] = (counter, 0.0)
        if before is None or counter < before[0]:
            return None
        return counter - before[0]
