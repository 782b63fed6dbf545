"""kombu's Redis channel sends its commands through one redis-py client (db_django/kombu_patches.py)."""

import pytest
import redis
from kombu import Connection, Exchange, Queue

import db_django.celery  # noqa: F401  (applies the patches, as every process of the app does)
from monitor.broker import queue_depths

pytestmark = pytest.mark.redis


@pytest.fixture
def broker(redis_url: str):
    with Connection(redis_url) as conn:
        yield conn


@pytest.fixture
def clients_built(monkeypatch: pytest.MonkeyPatch) -> list[redis.Redis]:
    """Every redis-py client built from now on."""
    built: list[redis.Redis] = []
    original = redis.Redis.__init__

    def counting_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(redis.Redis, "__init__", counting_init)
    return built


def test_publishing_and_reading_queue_lengths_build_one_client_per_channel(broker, clients_built):
    queue = Queue("patch-test", Exchange("patch-test", type="direct"), routing_key="patch-test")
    producer = broker.Producer()
    for number in range(3):
        producer.publish({"n": number}, exchange=queue.exchange, routing_key="patch-test", declare=[queue])

    for _ in range(5):
        assert queue_depths(broker, ["patch-test"]) == {"patch-test": 3}

    # Unpatched, kombu built a client (copying ~170 response callbacks) for every command.
    synchronous = [client for client in clients_built if client.connection_pool is broker.default_channel.pool]
    assert len(synchronous) == 1


def test_a_channel_that_replaced_its_pool_gets_a_client_on_the_new_pool(broker):
    channel = broker.default_channel
    with channel.conn_or_acquire() as before:
        assert before.connection_pool is channel.pool

    channel._disconnect_pools()  # what kombu does in a forked child

    with channel.conn_or_acquire() as after:
        assert after is not before
        assert after.connection_pool is channel.pool
    assert queue_depths(broker, ["never-declared"]) == {"never-declared": 0}


def test_a_client_passed_in_is_used_as_given(broker, redis_url):
    own = redis.Redis.from_url(redis_url)
    with broker.default_channel.conn_or_acquire(own) as client:
        assert client is own
