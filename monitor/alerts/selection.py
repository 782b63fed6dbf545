"""Which series each rule watches: the selector (metric or prefix*, host pattern, label globs) over the catalog.

The catalog is read once per evaluation, narrowed in SQL to the metrics some
rule names; host patterns are matched once per distinct (pattern, host), so
a thousand rules over two hundred hosts cost set lookups, not fnmatch calls.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable
from functools import lru_cache

from django.db.models import Q, TextField
from django.db.models.functions import Cast

from monitor.models import Series

# Metrics per OR-clause batch: keeps the statement small whatever the number of rules.
METRICS_PER_QUERY = 500


class CatalogSeries:
    """A catalog row as the evaluator needs it; its labels are decoded on first use (most are never read)."""

    __slots__ = ("id", "key", "name", "metric", "host", "_labels")

    def __init__(self, id: int, key: str, name: str, metric: str, host: str, labels: dict | str | None):
        self.id, self.key, self.name, self.metric, self.host, self._labels = id, key, name, metric, host, labels

    @property
    def labels(self) -> dict:
        if isinstance(self._labels, str | bytes):
            self._labels = json.loads(self._labels)
        return self._labels or {}


def is_prefix(metric: str) -> bool:
    return metric.endswith("*")


@lru_cache(maxsize=4096)
def _pattern(glob: str) -> re.Pattern:
    return re.compile(fnmatch.translate(glob))


def glob_match(glob: str, text: str) -> bool:
    """Shell-style match, case-sensitive on every platform (fnmatch.fnmatch folds case on Windows)."""
    return glob == "*" or glob == text or _pattern(glob).match(text) is not None


def load_catalog(rules: Iterable) -> list[CatalogSeries]:
    """The catalog rows any of the rules' metrics (exact or prefix*) may select."""
    exact: set[str] = set()
    prefixes: set[str] = set()
    for rule in rules:
        (prefixes if is_prefix(rule.metric) else exact).add(
            rule.metric.rstrip("*") if is_prefix(rule.metric) else rule.metric
        )
    if "" in prefixes:  # a bare "*" selects every series
        clauses = [Q()]
    else:
        clauses = [Q(metric__startswith=p) for p in sorted(prefixes)]
        exact_list = sorted(exact)
        clauses += [
            Q(metric__in=exact_list[i : i + METRICS_PER_QUERY]) for i in range(0, len(exact_list), METRICS_PER_QUERY)
        ]
    found: dict[int, CatalogSeries] = {}
    for start in range(0, len(clauses), METRICS_PER_QUERY):
        where = Q()
        for clause in clauses[start : start + METRICS_PER_QUERY]:
            where |= clause
        # The labels as stored (JSON text): decoding 10,000 of them costs more than the rest of the read.
        rows = Series.objects.filter(where).annotate(raw_labels=Cast("labels", TextField()))
        for row in rows.values_list("id", "key", "name", "metric", "host", "raw_labels"):
            found[row[0]] = CatalogSeries(*row)
    return list(found.values())


class Selector:
    """Matches rules against one catalog snapshot; remembers host-pattern answers across rules."""

    def __init__(self, catalog: list[CatalogSeries]):
        self.by_metric: dict[str, list[CatalogSeries]] = {}
        for series in catalog:
            self.by_metric.setdefault(series.metric, []).append(series)
        self.hosts = sorted({series.host for series in catalog})
        self._hosts_of: dict[str, frozenset[str] | None] = {}

    def _matching_hosts(self, pattern: str) -> frozenset[str] | None:
        """The catalog's hosts the pattern matches; None for `*` (all, no check needed)."""
        if pattern in ("", "*"):
            return None
        if pattern not in self._hosts_of:
            self._hosts_of[pattern] = frozenset(h for h in self.hosts if glob_match(pattern, h))
        return self._hosts_of[pattern]

    def select(self, rule) -> list[CatalogSeries]:
        """The series the rule watches, in catalog order."""
        if is_prefix(rule.metric):
            prefix = rule.metric[:-1]
            candidates = [s for metric, rows in self.by_metric.items() if metric.startswith(prefix) for s in rows]
        else:
            candidates = self.by_metric.get(rule.metric, [])
        hosts = self._matching_hosts(rule.host_pattern)
        if hosts is not None:
            candidates = [s for s in candidates if s.host in hosts]
        wanted = rule.match_labels or {}
        if wanted:
            candidates = [s for s in candidates if labels_match(wanted, s.labels)]
        return candidates


def labels_match(wanted: dict, labels: dict) -> bool:
    """Every wanted label present with a matching value (shell glob)."""
    for name, glob in wanted.items():
        value = labels.get(name)
        if value is None or not glob_match(str(glob), str(value)):
            return False
    return True
