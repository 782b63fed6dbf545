"""Fixes to kombu 5.7's Redis transport, applied wherever the Celery app loads.

The first two were found by tests/test_faults_redis.py (a private Redis
stopped, or frozen longer than the socket timeout, under a running worker);
the third by bench/collector_cost.py:

1. QoS.ack/reject raise when Redis does not answer *before* releasing the
   message's prefetch slot. With a prefetch of one, a single failed ack leaves
   the worker holding a slot forever: it never consumes again. Here the slot is
   always released; a message whose ack never reached Redis stays in Redis'
   unacked index and is restored after the visibility timeout, which is safe
   because collection cycles expire and are stored at most once (CollectionCycle).
2. After a lost connection Celery closes the connection twice; the second close
   restores unacked messages through a transport already torn down and fails
   with AttributeError, which Celery does not treat as a connection error: the
   worker exits. Here that case raises a ConnectionError, which Celery handles
   by reconnecting.
3. Every Redis command kombu sends outside its consumer loop (publish, queue
   declare, bind, size, delete, ack bookkeeping) builds a new redis-py client
   on the channel's pool, and building one copies redis-py's table of ~170
   response callbacks (redis-py issue #3624). That was most of the CPU a
   `task_counts` broadcast and a queue-length read cost, every cycle. Here each
   channel builds one client per pool and reuses it: a client holds no
   connection of its own (each command checks one out of the pool), so it is
   safe to share. A channel that replaced its pool (after a fork, or closed
   and reopened) gets a new client.
4. A message not acknowledged within the visibility timeout is pushed back to
   the lists of the queues its exchange is bound to. For a broadcast (fanout)
   exchange those lists are never read: its queues are consumed by
   subscription, so each restored broadcast stayed in Redis for good, one copy
   per bound queue. With the short visibility timeout of settings.py this
   happens whenever a host cycle waits behind a slow task. Here a broadcast is
   dropped instead: the worker that held it runs it if it lives, and the next
   cycle comes one interval later if it died. Found by
   tests/test_faults_worker.py.

Remove each when kombu fixes it upstream (check with tests/test_faults_redis.py
and tests/test_kombu_redis_client.py).
"""

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

_original_connparams = kombu_redis.Channel._connparams


def _ack(self, delivery_tag) -> None:
    try:
        self._remove_from_indices(delivery_tag).execute()
    finally:
        virtual.QoS.ack(self, delivery_tag)


def _reject(self, delivery_tag, requeue: bool = False) -> None:
    try:
        if requeue:
            self.restore_by_tag(delivery_tag, leftmost=True)
        else:
            self._remove_from_indices(delivery_tag).execute()
    finally:
        virtual.QoS.ack(self, delivery_tag)


def _connparams(self, asynchronous: bool = False) -> dict:
    if self.connection.client is None:
        raise redis.exceptions.ConnectionError("broker connection already closed")
    return _original_connparams(self, asynchronous=asynchronous)


@contextmanager
def _conn_or_acquire(self, client=None) -> Iterator[redis.Redis]:
    if client:
        yield client
        return
    pool = self.pool
    shared = self.__dict__.get("_shared_sync_client")
    if shared is None or shared.connection_pool is not pool:
        shared = self.__dict__["_shared_sync_client"] = self._create_client()
    yield shared


_original_do_restore_message = kombu_redis.Channel._do_restore_message


def _do_restore_message(self, payload, exchange, routing_key, pipe, leftmost: bool = False) -> None:
    if exchange and self.typeof(exchange).type == "fanout":
        return  # the caller's transaction still removes it from the unacknowledged set
    _original_do_restore_message(self, payload, exchange, routing_key, pipe, leftmost)


def apply() -> None:
    kombu_redis.QoS.ack = _ack
    kombu_redis.QoS.reject = _reject
    kombu_redis.Channel._connparams = _connparams
    kombu_redis.Channel.conn_or_acquire = _conn_or_acquire
    kombu_redis.Channel._do_restore_message = _do_restore_message
