"""The worker side: beat schedule, Celery tasks, collectors and the probes that feed them."""
