"""How often a client may do something: API_WRITE_RATE writes per token, failed token checks per address.

Counting is a fixed window that starts at a client's first request: the first
hit creates a counter that expires after the rate's period, every hit adds one,
and a hit beyond the limit is refused until the counter expires (Retry-After).
On Redis (CACHE_URL) the create, add and read are one MULTI/EXEC round trip, so
concurrent requests in any number of web processes never pass on the same
count (DRF's own throttle reads a history, then writes it back: they did).

A shared cache that is down or frozen must not fail requests: counting falls
back to this process's memory (each web process then allows the rate on its
own), the outage is logged once, and the cache is asked again every
CACHE_RETRY_SECONDS, so a frozen Redis costs one socket timeout per retry, not
one per request. Without CACHE_URL, counting is per process as before.
"""

import logging
import math
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError
from rest_framework import permissions, throttling

from db_django.env import parse_rate
from monitor.models import ApiToken

log = logging.getLogger(__name__)

# After a cache error, this process counts locally for this long before asking the cache again.
CACHE_RETRY_SECONDS = 5.0
# While the cache stays down, "still down" is logged at most this often.
OUTAGE_LOG_SECONDS = 60.0


def client_address(request) -> str:
    """The client's IP address: REMOTE_ADDR, or behind the TLS proxy the address it appended.

    Only with DJANGO_BEHIND_TLS_PROXY=1 (TRUST_X_FORWARDED_FOR) is X-Forwarded-For
    read, and then only its last entry: the one our proxy added (nginx's
    $proxy_add_x_forwarded_for); anything before it came from the client. Used by
    the throttles here and by django-axes for login lockouts.
    """
    meta = getattr(request, "META", {})
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = meta.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        if forwarded:
            return forwarded
    return meta.get("REMOTE_ADDR", "")


def token_ident(token: ApiToken) -> str:
    """Whose writes a token's requests count as (all its clients share its rate)."""
    return f"token-{token.pk}"


@dataclass(frozen=True)
class Hit:
    count: int  # hits in the current window, this one included
    resets_in: float  # seconds until the window ends

    def retry_after(self) -> int:
        """Whole seconds for the Retry-After header (DRF truncates, which could say 0)."""
        return max(1, math.ceil(self.resets_in))


class _Outage:
    """This process's view of the shared cache: when to ask it again, when it was last reported."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.logged_at = -math.inf
        self.down = False

    def failed(self, location: str, exc: Exception) -> None:
        now = time.monotonic()
        self.down_until = now + CACHE_RETRY_SECONDS
        if not self.down or now - self.logged_at >= OUTAGE_LOG_SECONDS:
            what = "still unavailable" if self.down else "unavailable"
            log.warning(
                "throttle cache %s %s (%s: %s); counting in this process, retrying every %.0f s",
                location,
                what,
                type(exc).__name__,
                exc,
                CACHE_RETRY_SECONDS,
            )
            self.logged_at = now
        if not self.down:
            _fallback.clear()  # the outage's counts start afresh
        self.down = True

    def answered(self, location: str) -> None:
        if self.down:
            log.info("throttle cache %s answers again; counting there", location)
        self.down = False


_outages: dict[str, _Outage] = {}
# Per-process counters: the embedded mode's (LocMemCache) and the fallback during a cache outage.
_local_lock = threading.Lock()
_fallback = LocMemCache("monitor-throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 10000}})


def hit(name: str, period: int) -> Hit:
    """Count one hit on counter `name` (e.g. `write:token-7`) in a window of `period` seconds."""
    cache = caches["default"]
    key = cache.make_and_validate_key(f"throttle:{name}")
    if not isinstance(cache, RedisCache):
        return _hit_local(cache, key, period)
    location = _where(settings.CACHES["default"]["LOCATION"])
    outage = _outages.setdefault(location, _Outage())
    if time.monotonic() < outage.down_until:
        return _hit_local(_fallback, key, period)
    try:
        found = _hit_redis(cache, key, period)
    except RedisError as exc:
        outage.failed(location, exc)
        return _hit_local(_fallback, key, period)
    outage.answered(location)
    return found


def _where(location: str | list[str]) -> str:
    """host:port/db of the cache, without a password (it goes to the log)."""
    parts = urlsplit(location if isinstance(location, str) else location[0])
    return f"{parts.hostname}:{parts.port or 6379}{parts.path}" if parts.hostname else parts.path


def _hit_redis(cache: RedisCache, key: str, period: int) -> Hit:
    # Django's RedisCache has no atomic "increment, creating with a TTL"; its client
    # (with CACHE_URL's socket timeouts, no retries) runs the three commands as one transaction.
    client = cache._cache.get_client(key, write=True)
    pipe = client.pipeline(transaction=True)
    pipe.set(key, 0, ex=period, nx=True)
    pipe.incr(key)
    pipe.pttl(key)
    _, count, ttl_ms = pipe.execute()
    if ttl_ms < 0:  # no expiry: never made by the SET above; do not block the client forever
        client.expire(key, period)
        ttl_ms = period * 1000
    return Hit(count, ttl_ms / 1000)


def _hit_local(cache: BaseCache, key: str, period: int) -> Hit:
    # A per-process cache: a process-wide lock makes read-modify-write atomic.
    with _local_lock:
        now = time.time()
        ends, count = cache.get(key, (0.0, 0))
        if ends <= now:
            ends, count = now + period, 0
        count += 1
        cache.set(key, (ends, count), timeout=ends - now)
    return Hit(count, ends - now)


class TokenWriteThrottle(throttling.BaseThrottle):
    """At most API_WRITE_RATE writes per token (per client address without one).

    Only with the production policy (API_REQUIRE_AUTH); reads are never throttled.
    """

    scope = "write"

    def __init__(self) -> None:
        self.rate = getattr(self, "rate", None) or settings.API_WRITE_RATE
        self.limit, self.period = parse_rate(self.rate)
        self.found: Hit | None = None

    def allow_request(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS or not settings.API_REQUIRE_AUTH:
            return True
        return self.allow(self.get_ident(request))

    def allow(self, ident: str) -> bool:
        """Count one write of `ident` (a token's or an address's); False past the rate."""
        self.found = hit(f"{self.scope}:{ident}", self.period)
        return self.found.count <= self.limit

    def get_ident(self, request) -> str:
        return token_ident(request.auth) if isinstance(request.auth, ApiToken) else client_address(request)

    def wait(self) -> int | None:
        return self.found.retry_after() if self.found else None
