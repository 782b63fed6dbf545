"""The application's own figures: what the web processes count, and what the database knows.

Requests and ingest are counted in the web processes with prometheus-client
(in multiprocess mode under gunicorn: multiprocess.py). Figures that belong to
the whole deployment are read from the database where they already live, at
scrape time: when each host last reported, how many series the catalog holds.
The workers' own figures (queue depth, workers online, tasks) are series our
queue collector stores every cycle (`celery.*`), exposed with the others.
"""

import os
from collections.abc import Iterator

from django.db import connection
from django.db.models import Count
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.models import Host, Series
from monitor.storage.folding import folded_until

from .multiprocess import VARIABLE

HTTP_REQUESTS = Counter(
    "db_django_http_requests", "HTTP requests answered, by route, method and status.", ["view", "method", "code"]
)
HTTP_SECONDS = Histogram(
    "db_django_http_request_duration_seconds",
    "Time from the request reaching Django to its answer, by route.",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INGEST_SAMPLES = Counter("db_django_ingest_samples", "Samples stored, by protocol.", ["protocol"])
INGEST_DROPPED = Counter(
    "db_django_ingest_dropped_samples",
    "Samples received and not stored, by protocol and reason (stale marker, NaN, Inf).",
    ["protocol", "reason"],
)
INGEST_REFUSED = Counter(
    "db_django_ingest_refused_requests", "Ingest requests refused, by protocol and status.", ["protocol", "code"]
)


class DatabaseFigures(Collector):
    """Per-host last report and catalog size, read at scrape time (two small queries)."""

    def collect(self) -> Iterator[Metric]:
        seen = GaugeMetricFamily(
            "db_django_host_last_seen_timestamp_seconds",
            "When each host last sent a sample (Unix time).",
            labels=["host"],
        )
        for name, last_seen in Host.objects.values_list("name", "last_seen"):
            seen.add_metric([name], last_seen.timestamp())
        yield seen
        series = GaugeMetricFamily("db_django_series", "Series in the catalog, by host.", labels=["host"])
        for host, count in Series.objects.values_list("host").annotate(n=Count("id")).values_list("host", "n"):
            series.add_metric([host], count)
        yield series
        folded = folded_until(connection)
        if folded is not None:  # absent while every write folds its own samples (SQLite, before the first fold)
            yield GaugeMetricFamily(
                "db_django_rollups_folded_until_timestamp_seconds",
                "Up to when the minute and hour rollups hold every sample (Unix time): the fold-rollups task's"
                " progress; behind by more than a few minutes, it is not running.",
                folded / 1e6,
            )
        yield GaugeMetricFamily(
            "db_django_scrape_timestamp_seconds", "When this answer was made.", timezone.now().timestamp()
        )


def process_figures() -> Iterator[Metric]:
    """This web process's counters, or every gunicorn worker's added up (multiprocess mode)."""
    if os.environ.get(VARIABLE):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        yield from registry.collect()
    else:
        yield from REGISTRY.collect()
