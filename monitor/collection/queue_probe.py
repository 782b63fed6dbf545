"""The task-queue probe: asks the workers and the broker, once per server cycle, what they hold."""

import logging
import time

from celery import Celery
from kombu import Connection
from kombu.pidbox import Mailbox

from monitor.broker import broadcast_and_collect, broker_connection, control_mailbox, queue_depths

from .collectors import Collected, Counters, Sample
from .collectors.queue import collect_queue

logger = logging.getLogger(__name__)

# The broadcast stops listening once as many workers answered as last cycle, so
# a worker that joins would never be heard; at least this often a cycle listens
# out its whole window instead.
WORKER_DISCOVERY_SECONDS = 10.0


class QueueProbe:
    """Workers' task counts and queue lengths, over one broker connection kept between cycles.

    Opening a connection and a mailbox costs more CPU than the questions asked
    on them, so both live as long as the broker answers; the broadcast stops
    listening once as many workers answered as last cycle instead of waiting
    out its window, which at a 1 s interval would overlap the next cycle and
    keep every worker's event loop busy. Every `discovery_seconds` a cycle
    listens out the window, so a worker that joined is counted.
    """

    def __init__(self, app: Celery, discovery_seconds: float = WORKER_DISCOVERY_SECONDS) -> None:
        self.app = app
        self.discovery_seconds = discovery_seconds
        self._broker: Connection | None = None
        self._mailbox: Mailbox | None = None
        self._workers_last_cycle = 0
        self._listened_fully_at = float("-inf")

    def collect(self, previous: Counters | None, timeout: float) -> Collected:
        """One cycle's samples, rates against `previous` (the workers' totals last cycle).

        A broker that is down or frozen yields `celery.broker_up` 0 and no totals.
        """
        started = time.monotonic()
        expected = self._workers_last_cycle
        if started - self._listened_fully_at >= self.discovery_seconds:
            expected, self._listened_fully_at = 0, started
        try:
            if self._broker is None or self._mailbox is None:
                self._broker = broker_connection(self.app, timeout)
                self._mailbox = control_mailbox(self.app, self._broker)
            replies = broadcast_and_collect(
                self.app, self._broker, "task_counts", wait=timeout * 0.6, expected=expected, mailbox=self._mailbox
            )
            depths = queue_depths(self._broker, [self.app.conf.task_default_queue])
        except Exception as exc:  # broker down or frozen: that is the sample
            logger.warning("task queue: broker unavailable: %s", exc)
            self.close()
            return Collected([Sample("celery.broker_up", 0.0, "broker answered")])
        self._workers_last_cycle = len(replies)
        queue = collect_queue(replies, depths, previous, time.time())
        return Collected([Sample("celery.broker_up", 1.0, "broker answered"), *queue.samples], queue.counters)

    def close(self) -> None:
        if self._broker is not None:
            self._broker.release()
        self._broker = self._mailbox = None
