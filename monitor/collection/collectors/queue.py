"""Task-queue metrics from what the broker and the workers report.

Pure: takes the workers' `task_counts` replies and the queue depths the caller
fetched (collection/queue_probe.py does the talking) and returns samples.
"""

from .base import Collected, Counters, RateTracker, Sample


def collect_queue(
    replies: dict[str, dict], depths: dict[str, int], previous: Counters | None = None, now: float = 0.0
) -> Collected:
    """Sums over the workers, queue lengths, and per-minute rates against `previous` (the last cycle's totals).

    Each worker's totals are dated by that worker's own clock (the reply's
    `time`; `now`, the caller's clock, for a reply without one), so the
    span of its rate does not depend on which worker collected either cycle.
    """
    tracker = RateTracker(previous)
    samples = [Sample("celery.workers_online", float(len(replies)), "workers answering remote control")]
    for queue, depth in sorted(depths.items()):
        samples.append(Sample(f"celery.queue_length:{queue}", float(depth), f"messages waiting in {queue}"))
    for kind in ("active", "reserved", "scheduled"):
        total = sum(int(r.get(kind, 0)) for r in replies.values())
        samples.append(Sample(f"celery.tasks_{kind}", float(total), f"tasks {kind}, all workers"))
    for outcome in ("succeeded", "failed"):
        # Per worker, so a worker restarting (its totals drop to zero) or
        # joining (arriving with its lifetime totals) causes no spike.
        rates = [
            tracker.rate(
                f"celery.{outcome}:{worker}", float(reply.get(f"{outcome}_total", 0)), float(reply.get("time", now))
            )
            for worker, reply in replies.items()
        ]
        known = [rate for rate in rates if rate is not None]
        if known:
            samples.append(
                Sample(f"celery.tasks_{outcome}_per_minute", 60.0 * sum(known), f"tasks {outcome} per minute")
            )
    return Collected(samples, tracker.current)
