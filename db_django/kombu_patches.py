"""Fixes to kombu 5.7's Redis transport, applied wherever the Celery app loads.

Upstream debt: each is a kombu bug, written up with a reproduction for the
kombu tracker in docs/upstream/ (to be filed: no upstream issue for them was
found in kombu 5.7.0's source). Each is exercised by tests/test_kombu_patches.py
on a private redis-server, and they were written and tested against kombu 5.7.x
only: `apply()` refuses any other kombu (check_kombu_version) unless
ALLOW_UNTESTED_KOMBU=1 says the operator takes the risk.

1. QoS.ack/reject raise when Redis does not answer *before* releasing the
   message's prefetch slot. With a prefetch of one, a single failed ack leaves
   the worker holding a slot forever: it never consumes again. Here the slot is
   always released; a message whose ack never reached Redis stays in Redis'
   unacked index and is restored after the visibility timeout, which is safe
   because collection cycles expire and are stored at most once (CollectionCycle).
   Found by tests/test_faults_redis.py (Redis frozen past the socket timeout).
   Upstream: docs/upstream/kombu-redis-failed-ack-keeps-prefetch-slot.md (to be filed).
2. After a lost connection Celery closes the connection twice; the second close
   restores unacked messages through a transport already torn down and fails
   with AttributeError, which Celery does not treat as a connection error: the
   worker exits. Here that case raises a ConnectionError, which Celery handles
   by reconnecting. Found by tests/test_faults_redis.py (Redis stopped).
   Upstream: docs/upstream/kombu-redis-close-after-transport-closed.md (to be filed).
3. Every Redis command kombu sends outside its consumer loop (publish, queue
   declare, bind, size, delete, ack bookkeeping) builds a new redis-py client
   on the channel's pool (two per publish), and building one copies redis-py's
   table of ~170 response callbacks: about 90 us of CPU each, most of what a
   `task_counts` broadcast and a queue-length read cost every cycle. Here each
   channel builds one client per pool and reuses it: a client holds no
   connection of its own (each command checks one out of the pool), so it is
   safe to share. A channel that replaced its pool (after a fork, or closed
   and reopened) gets a new client. Found by bench/collector_cost.py.
   Upstream: docs/upstream/kombu-redis-client-per-command.md (to be filed).
4. A message not acknowledged within the visibility timeout is pushed back to
   the lists of the queues its exchange is bound to. For a broadcast (fanout)
   exchange those lists are never read: its queues are consumed by
   subscription, so each restored broadcast stayed in Redis for good, one copy
   per bound queue. With the short visibility timeout of settings.py this
   happens whenever a host cycle waits behind a slow task. Here a broadcast is
   dropped instead: the worker that held it runs it if it lives, and the next
   cycle comes one interval later if it died. Found by tests/test_faults_worker.py.
   Upstream: docs/upstream/kombu-redis-fanout-restore-leaks.md (to be filed).

Remove each when kombu fixes it upstream: its test in tests/test_kombu_patches.py
then passes without it.
"""

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import kombu
import redis
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

logger = logging.getLogger(__name__)

# The kombu release series the fixes below were written and tested for. Each
# replaces or wraps a private method whose body they copy or depend on; another
# release may have changed that body, fixed the bug, or both.
TESTED_KOMBU_SERIES = ("5.7",)
ALLOW_UNTESTED = "ALLOW_UNTESTED_KOMBU"


class UntestedKombu(RuntimeError):
    """The installed kombu is not one the patches were written for."""


def check_kombu_version(version: str = kombu.__version__, environ: Mapping[str, str] = os.environ) -> None:
    """Raise UntestedKombu unless `version` is of a tested series or ALLOW_UNTESTED_KOMBU=1 is set."""
    series = ".".join(version.split(".")[:2])
    if series in TESTED_KOMBU_SERIES:
        return
    tested = ", ".join(f"{s}.x" for s in TESTED_KOMBU_SERIES)
    if environ.get(ALLOW_UNTESTED) == "1":
        logger.warning(
            "kombu %s: db_django/kombu_patches.py was tested on kombu %s only; applied anyway (%s=1)",
            version,
            tested,
            ALLOW_UNTESTED,
        )
        return
    raise UntestedKombu(
        f"kombu {version} is installed, but db_django/kombu_patches.py patches private parts of kombu's Redis"
        f" transport and was written and tested for kombu {tested} only. Install a tested kombu (requirements.txt"
        f" pins it), or check each patch against this release (run tests/test_kombu_patches.py; see"
        f" docs/upstream/) and add its series to TESTED_KOMBU_SERIES. To start anyway at your own risk, set"
        f" {ALLOW_UNTESTED}=1."
    )


_original_connparams = kombu_redis.Channel._connparams
_original_do_restore_message = kombu_redis.Channel._do_restore_message


def _ack(self, delivery_tag) -> None:
    """Patch 1: docs/upstream/kombu-redis-failed-ack-keeps-prefetch-slot.md."""
    try:
        self._remove_from_indices(delivery_tag).execute()
    finally:
        virtual.QoS.ack(self, delivery_tag)


def _reject(self, delivery_tag, requeue: bool = False) -> None:
    """Patch 1: docs/upstream/kombu-redis-failed-ack-keeps-prefetch-slot.md."""
    try:
        if requeue:
            self.restore_by_tag(delivery_tag, leftmost=True)
        else:
            self._remove_from_indices(delivery_tag).execute()
    finally:
        virtual.QoS.ack(self, delivery_tag)


def _connparams(self, asynchronous: bool = False) -> dict:
    """Patch 2: docs/upstream/kombu-redis-close-after-transport-closed.md."""
    if self.connection.client is None:
        raise redis.exceptions.ConnectionError("broker connection already closed")
    return _original_connparams(self, asynchronous=asynchronous)


@contextmanager
def _conn_or_acquire(self, client=None) -> Iterator[redis.Redis]:
    """Patch 3: docs/upstream/kombu-redis-client-per-command.md."""
    if client:
        yield client
        return
    pool = self.pool
    shared = self.__dict__.get("_shared_sync_client")
    if shared is None or shared.connection_pool is not pool:
        shared = self.__dict__["_shared_sync_client"] = self._create_client()
    yield shared


def _do_restore_message(self, payload, exchange, routing_key, pipe, leftmost: bool = False) -> None:
    """Patch 4: docs/upstream/kombu-redis-fanout-restore-leaks.md."""
    if exchange and self.typeof(exchange).type == "fanout":
        return  # the caller's transaction still removes it from the unacknowledged set
    _original_do_restore_message(self, payload, exchange, routing_key, pipe, leftmost)


def apply() -> None:
    """Install the four fixes; raises UntestedKombu on a kombu they were not written for."""
    check_kombu_version()
    kombu_redis.QoS.ack = _ack
    kombu_redis.QoS.reject = _reject
    kombu_redis.Channel._connparams = _connparams
    kombu_redis.Channel.conn_or_acquire = _conn_or_acquire
    kombu_redis.Channel._do_restore_message = _do_restore_message
