"""Task-queue metrics from what the broker and the workers report.

Pure: takes the workers' `task_counts` replies and the queue depths the caller
fetched (collection/queue_probe.py does the talking) and returns samples.
"""

from .base import RateTracker, Sample


def collect_queue(replies: dict[str, dict], depths: dict[str, int], tracker: RateTracker, now: float) -> list[Sample]:
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
            tracker.rate(f"celery.{outcome}:{worker}", float(reply.get(f"{outcome}_total", 0)), now)
            for worker, reply in replies.items()
        ]
        known = [rate for rate in rates if rate is not None]
        if known:
            samples.append(
                Sample(f"celery.tasks_{outcome}_per_minute", 60.0 * sum(known), f"tasks {outcome} per minute")
            )
    return samples
