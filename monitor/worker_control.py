"""A remote-control command the status endpoint asks every worker at once.

Celery's own inspect() needs one broadcast per question (active, reserved,
scheduled), each waiting its full timeout; this answers all three in a single
round trip. Imported by tasks.py so every worker registers it.
"""

from celery.worker import control


@control.inspect_command()
def task_counts(state, **kwargs) -> dict:
    """Numbers of active, reserved and scheduled tasks on this worker."""
    return {
        "active": len(control.active(state)),
        "reserved": len(control.reserved(state)),
        "scheduled": len(control.scheduled(state)),
    }
