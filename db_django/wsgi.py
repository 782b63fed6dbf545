"""WSGI entry point: `gunicorn db_django.wsgi`."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "db_django.settings")

application = get_wsgi_application()


def _freeze_start_up_heap() -> None:
    """Import every view now, then keep what start-up built out of the cycle collector's passes.

    A full collection over a worker's heap (Django, DRF, the app: ~110,000
    objects) took 55-100 ms, and under bulk load one runs every second
    (monitor/gc_pause.py) besides the collector's own; frozen, that heap is
    never traversed again and a collection walks only what requests left.
    Start-up objects live as long as the process anyway.
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the URLconf imports every view module
    gc.collect()
    gc.freeze()


_freeze_start_up_heap()
