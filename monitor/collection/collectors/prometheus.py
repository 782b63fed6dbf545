"""Scrape a Prometheus exporter (node_exporter, mysqld_exporter): its text exposition -> samples.

Each sample keeps its exporter's name and labels, plus `instance` (the
target's host:port), as Prometheus would store it:
`node_load1{instance="db-1:9100"}`. Per target, as Prometheus does: `up` (1 when
the scrape worked, else 0), `scrape_duration_seconds` and
`scrape_samples_scraped`. NaN and Inf values (a summary quantile with no
observations) are skipped: storage holds finite numbers only. No ORM and no
Celery here; the task stores what `scrape` returns.
"""

import math
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

from monitor.storage.names import render

from .base import Sample

# An exporter's answer is a few hundred KB; more is a wrong URL or a runaway exporter.
MAX_BYTES = 16 * 1024 * 1024
ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Scraped:
    """One scrape: the host its series belong to, their samples (with `up`), and why it failed."""

    host: str
    samples: list[Sample]
    error: str = ""


def target_host(url: str, local_name: str) -> tuple[str, str]:
    """(host of the series, `instance` label) of a target; a loopback target is this machine (`local_name`)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    hostname = parts.hostname or ""
    instance = f"[{hostname}]:{port}" if ":" in hostname else f"{hostname}:{port}"
    return (local_name if hostname in LOOPBACK else hostname), instance


def parse(text: str, extra: dict[str, str]) -> list[Sample]:
    """The samples of a text exposition (format 0.0.4), each with `extra` labels added; ValueError if malformed."""
    found: dict[str, Sample] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            value = float(sample.value)
            if not math.isfinite(value):
                continue
            name = render(sample.name, {**sample.labels, **extra})
            found[name] = Sample(name, value, family.documentation)
    return list(found.values())


def scrape(url: str, timeout: float, local_name: str) -> Scraped:
    """Fetch and parse one target (`timeout` seconds per connect and read); its faults give up = 0, never raise."""
    host, instance = target_host(url, local_name)
    labels = {"instance": instance}
    started = time.monotonic()
    error = ""
    samples: list[Sample] = []
    try:
        request = urllib.request.Request(url, headers={"Accept": ACCEPT, "User-Agent": "db_django-monitor"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - operator-configured URLs
            body = answer.read(MAX_BYTES + 1)
        if len(body) > MAX_BYTES:
            raise ValueError(f"answer larger than {MAX_BYTES} bytes")
        samples = parse(body.decode("utf-8", errors="replace"), labels)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        samples = []
    seconds = time.monotonic() - started
    up = [
        Sample(render("up", labels), 0.0 if error else 1.0, "1 when the target answered and parsed, else 0"),
        Sample(render("scrape_duration_seconds", labels), seconds, "time the scrape took"),
        Sample(render("scrape_samples_scraped", labels), float(len(samples)), "samples the target exposed"),
    ]
    return Scraped(host, samples + up, error)
