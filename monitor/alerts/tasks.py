"""The evaluator's Celery task: the schedule's entry point, nothing more (the work is in evaluation.py)."""

import logging

from celery import shared_task

from .evaluation import evaluate

logger = logging.getLogger(__name__)


# Acknowledged on start: a run is superseded by the next one, never worth redelivering.
@shared_task(ignore_result=True, acks_late=False)
def evaluate_rules() -> dict:
    """Evaluate every enabled alert rule once; a run that finds another one running skips."""
    report = evaluate()
    if report.skipped:
        logger.info("alert evaluation skipped: another evaluator holds the lease")
    elif report.conflict:
        logger.warning("alert evaluation rolled back: an alert changed under it (a late evaluator)")
    return report.as_dict()
