"""Redis server metrics read from one INFO reply per cycle."""

import logging
import time
from functools import cache
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .base import Collected, Counters, RateTracker, Sample, gauge_samples, number, rate_samples

logger = logging.getLogger(__name__)

DEFAULT_PORT = 6379
# How the collector's connection shows in the monitored server's CLIENT LIST.
CLIENT_NAME = "db_django-monitor"

# (metric, INFO field, description with unit): reported as read.
GAUGES = (
    ("uptime_seconds", "uptime_in_seconds", "seconds since the server started"),
    ("connected_clients", "connected_clients", "client connections, replicas excluded (count)"),
    ("blocked_clients", "blocked_clients", "clients waiting in a blocking call (count)"),
    ("used_memory_bytes", "used_memory", "memory allocated by Redis (bytes)"),
    ("used_memory_rss_bytes", "used_memory_rss", "resident memory of the process as the OS sees it (bytes)"),
    ("mem_fragmentation_ratio", "mem_fragmentation_ratio", "resident over allocated memory (ratio)"),
    ("ops_per_second", "instantaneous_ops_per_sec", "commands per second as sampled by the server"),
    ("evicted_keys", "evicted_keys", "keys evicted for maxmemory since start (count)"),
    ("expired_keys", "expired_keys", "keys removed on expiry since start (count)"),
    ("rejected_connections", "rejected_connections", "connections refused for maxclients since start (count)"),
)

# (metric, INFO counter, what it counts): reported as a per-second rate.
RATE_COUNTERS = (
    ("commands_per_second", "total_commands_processed", "commands processed"),
    ("evicted_keys_per_second", "evicted_keys", "keys evicted for maxmemory"),
    ("expired_keys_per_second", "expired_keys", "keys removed on expiry"),
)


def collect_redis(url: str, previous: Counters | None = None, timeout: float = 2.0) -> Collected:
    """Read one server's INFO once; a down server is reported as `redis.up` 0, never raised.

    Names carry `host:port` after a colon so several servers stay apart. Rates
    are against `previous`, this server's counters from its last cycle, over
    the time between the two INFO replies on the server's own clock
    (`server_time_usec`, Redis 6.2+; older servers: this machine's clock). A
    down server returns no counters, so the cycle after it has no rates.
    """
    server = server_label(url)
    try:
        info = _read_info(url, timeout)
    except (redis.RedisError, OSError) as exc:
        logger.warning("redis %s: down or INFO failed: %s", server, " ".join(str(exc).split()) or type(exc).__name__)
        return Collected([_up(server, 0.0)])
    server_time = number(info.get("server_time_usec"))
    read_at = server_time / 1e6 if server_time else time.time()
    tracker = RateTracker(previous)

    samples = [_up(server, 1.0), *gauge_samples("redis", server, GAUGES, info)]
    samples += rate_samples(
        tracker,
        read_at,
        [
            (f"redis.{metric}:{server}", counter, description)
            for metric, field, description in RATE_COUNTERS
            if (counter := number(info.get(field))) is not None
        ],
    )
    used, limit = number(info.get("used_memory")), number(info.get("maxmemory"))
    if used is not None and limit:  # maxmemory 0: no limit, nothing to be near
        samples.append(
            Sample(f"redis.used_memory_percent:{server}", 100.0 * used / limit, "memory used of maxmemory (percent)")
        )
    ratio = _keyspace_hit_ratio(info, tracker, server, read_at)
    if ratio is not None:
        samples.append(Sample(f"redis.keyspace_hit_ratio:{server}", ratio, "key lookups that found the key (percent)"))
    return Collected(samples, tracker.current)


def _read_info(url: str, timeout: float) -> dict[str, Any]:
    client = _client(url, timeout)
    try:
        return client.info()
    except Exception:
        # A timed-out or broken connection must not be reused: the next cycle
        # starts from a fresh one.
        client.connection_pool.disconnect()
        raise


@cache
def _client(url: str, timeout: float) -> redis.Redis:
    """One client per server for the life of the worker process; its pool keeps one idle connection.

    Building a client and connecting cost more CPU than the INFO itself, which
    adds up at a collection every second. redis-py retries by default; here a
    command is retried once only when its connection turned out dead (the
    server restarted since the last cycle), never after a timeout, so a frozen
    server costs one timeout per cycle and a restarted one is not reported down.
    """
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        client_name=CLIENT_NAME,
    )


def _keyspace_hit_ratio(info: dict[str, Any], tracker: RateTracker, server: str, read_at: float) -> float | None:
    hits = number(info.get("keyspace_hits"))
    misses = number(info.get("keyspace_misses"))
    if hits is None or misses is None:
        return None
    # Over the last interval, so a change in the workload shows at once; the first
    # cycle (and the one after a restart) has no interval and uses the totals.
    delta_hits = tracker.delta(f"redis.keyspace_hits:{server}", hits, read_at)
    delta_misses = tracker.delta(f"redis.keyspace_misses:{server}", misses, read_at)
    if delta_hits is None or delta_misses is None:
        delta_hits, delta_misses = hits, misses
    lookups = delta_hits + delta_misses
    if lookups <= 0:  # no lookups: a ratio would be made up
        return None
    return 100.0 * delta_hits / lookups


def server_label(url: str) -> str:
    """`host:port` (or the socket path) of the server at `url`, as it appears in metric names."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return unquote(parts.path)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"not a redis:// URL: {url!r}")
    return f"{parts.hostname or 'localhost'}:{parts.port or DEFAULT_PORT}"


def _up(server: str, value: float) -> Sample:
    return Sample(f"redis.up:{server}", value, "server answered INFO (1) or not (0)")
