"""db_django/kombu_patches.py: each fix to kombu's Redis transport holds on a real Redis, and only on a tested kombu.

Each test reproduces the bug its patch fixes (docs/upstream/ has the reports to
file) on a redis-server of the tests' own, so it fails, rather than skips, under
REQUIRE_SERVICES=1 when redis-server is missing. When kombu fixes a bug
upstream, its test passes without the patch: that is when to remove it.
"""

import logging
import subprocess
import sys
import time

import pytest
import redis
from kombu import Connection

import db_django.celery  # noqa: F401  (applies the patches, as every process of the app does)
from db_django.kombu_patches import ALLOW_UNTESTED, UntestedKombu, check_kombu_version
from procs import ROOT
from servers import private_redis

pytestmark = pytest.mark.redis


def unacknowledged(channel, queue: str, body: str = "hello"):
    """A message published to `queue` and taken from it, not acknowledged: what a consumer holds while it works."""
    channel.queue_declare(queue)
    channel.basic_publish(channel.prepare_message(body), exchange="", routing_key=queue)
    message = channel.basic_get(queue, no_ack=False)
    assert message is not None
    return message


# --- 1. a failed ack or reject releases the prefetch slot -----------------------------------


@pytest.mark.parametrize("settle", ["ack", "reject", "requeue"])
def test_a_consumer_whose_ack_never_reached_redis_consumes_again(tmp_path, settle):
    with private_redis(tmp_path) as server:
        with Connection(server.url(), transport_options={"socket_timeout": 1, "max_retries": 0}) as conn:
            channel = conn.channel()
            channel.basic_qos(prefetch_count=1)
            message = unacknowledged(channel, "patch-ack")
            assert not channel.qos.can_consume()  # the one slot is taken

            server.stop()  # Redis goes away before the worker acknowledges
            with pytest.raises(conn.connection_errors):
                {"ack": message.ack, "reject": message.reject, "requeue": message.requeue}[settle]()

            # Unpatched, the slot stayed taken for the channel's life: never another message.
            assert channel.qos.can_consume()


# --- 2. a close after the transport was torn down is a connection error ------------------------


def test_closing_a_channel_after_its_transport_is_a_connection_error_not_an_attribute_error(redis_url):
    conn = Connection(redis_url)
    errors = conn.connection_errors
    channel = conn.channel()
    unacknowledged(channel, "patch-close")  # closing restores it: the step that needs a client
    conn._do_close_transport()  # what the first close does: transport.client = None
    # Celery reconnects on a connection error; an AttributeError made the worker exit.
    with pytest.raises(errors):
        channel.close()


# --- 3. one redis-py client per channel (more in test_kombu_redis_client.py) ----------------------


def test_publishes_and_queue_declares_build_no_new_clients(redis_url, monkeypatch):
    built: list[redis.Redis] = []
    original = redis.Redis.__init__

    def counting_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        built.append(self)

    with Connection(redis_url) as conn:
        channel = conn.default_channel
        channel.queue_declare("patch-clients")
        monkeypatch.setattr(redis.Redis, "__init__", counting_init)
        for number in range(20):
            channel.basic_publish(channel.prepare_message(str(number)), exchange="", routing_key="patch-clients")
            channel.queue_declare("patch-clients", passive=True)
        # Unpatched: three per round (two per publish, one per declare), each copying ~170 callbacks.
        assert built == []
        assert channel.queue_declare("patch-clients", passive=True).message_count == 20


# --- 4. a restored broadcast is dropped, not parked in lists nobody reads ------------------------


def held_then_restored(channel, exchange: str, routing_key: str) -> None:
    """A message from `exchange` delivered and never acknowledged, restored once the visibility timeout passed."""
    raw = channel.prepare_message("body")
    raw["properties"]["delivery_info"] = {"exchange": exchange, "routing_key": routing_key}
    raw["properties"]["delivery_tag"] = tag = f"tag-{exchange}"
    channel.qos.append(channel.Message(raw, channel=channel), tag)
    time.sleep(1.1)
    channel.qos.restore_visible(num=10)


def test_an_unacknowledged_broadcast_is_dropped_once_its_visibility_timeout_passes(redis_url):
    server = redis.Redis.from_url(redis_url)
    with Connection(redis_url, transport_options={"visibility_timeout": 1}) as conn:
        channel = conn.channel()
        channel.exchange_declare("patch-broadcast", type="fanout")
        for queue in ("worker-a.broadcast", "worker-b.broadcast"):
            channel.queue_declare(queue)
            channel.queue_bind(queue, "patch-broadcast")
        held_then_restored(channel, "patch-broadcast", "")
        # Fanout queues are consumed by subscription: a copy pushed to their lists would stay for good.
        assert server.llen("worker-a.broadcast") == server.llen("worker-b.broadcast") == 0
        assert server.hlen(channel.unacked_key) == 0 and server.zcard(channel.unacked_index_key) == 0


def test_an_unacknowledged_direct_message_is_still_restored_to_its_queue(redis_url):
    server = redis.Redis.from_url(redis_url)
    with Connection(redis_url, transport_options={"visibility_timeout": 1}) as conn:
        channel = conn.channel()
        channel.exchange_declare("patch-direct", type="direct")
        channel.queue_declare("patch-direct-queue")
        channel.queue_bind("patch-direct-queue", "patch-direct", routing_key="patch-direct-queue")
        held_then_restored(channel, "patch-direct", "patch-direct-queue")
        assert server.llen("patch-direct-queue") == 1
        assert server.hlen(channel.unacked_key) == 0


# --- the version guard ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["5.7.0", "5.7.1", "5.7.12"])
def test_the_patches_apply_on_the_kombu_series_they_were_tested_for(version):
    check_kombu_version(version, environ={})


@pytest.mark.parametrize("version", ["5.8.0", "5.6.2", "6.0.0", "5.70.0"])
def test_any_other_kombu_is_refused_with_a_message_naming_it_and_the_way_out(version):
    with pytest.raises(UntestedKombu) as refused:
        check_kombu_version(version, environ={})
    message = str(refused.value)
    assert f"kombu {version} is installed" in message
    assert "5.7.x" in message and f"{ALLOW_UNTESTED}=1" in message


def test_an_operator_may_start_on_an_untested_kombu_at_their_own_risk(caplog):
    with caplog.at_level(logging.WARNING, logger="db_django.kombu_patches"):
        check_kombu_version("5.8.0", environ={ALLOW_UNTESTED: "1"})
    assert "kombu 5.8.0" in caplog.text and "applied anyway" in caplog.text


def start_app_on_kombu(version: str, **env: str) -> subprocess.CompletedProcess:
    """Load the Celery app, as every worker, beat and web process does, with kombu claiming `version`."""
    script = f"import kombu; kombu.__version__ = {version!r}; import db_django.celery"
    environ = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "db_django.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )


def test_a_process_refuses_to_start_on_an_untested_kombu():
    refused = start_app_on_kombu("5.8.0")
    assert refused.returncode != 0
    assert "UntestedKombu: kombu 5.8.0 is installed" in refused.stderr
    assert start_app_on_kombu("5.8.0", **{ALLOW_UNTESTED: "1"}).returncode == 0
    assert start_app_on_kombu("5.7.0").returncode == 0
