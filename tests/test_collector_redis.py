"""The Redis collector, checked against what the real server reports in INFO.

Other clients may use the server while these tests run (TEST_REDIS_URL may point
at a shared one), so figures that move are compared within a tolerance and rates
by lower bounds. The `redis_url` fixture empties the test database before and after.
"""

import logging
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import psutil
import pytest
import redis

from monitor.collection.collectors.base import Sample
from monitor.collection.collectors.redis import CLIENT_NAME, collect_redis
from servers import private_redis

pytestmark = pytest.mark.redis

RATE_METRICS = ("commands_per_second", "evicted_keys_per_second", "expired_keys_per_second")


def _server(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}"


def _values(samples: list[Sample], url: str) -> dict[str, float]:
    """Sample values keyed by metric, with the `:host:port` suffix checked and dropped."""
    suffix = ":" + _server(url)
    assert all(sample.name.endswith(suffix) for sample in samples)
    return {sample.name.removeprefix("redis.").removesuffix(suffix): sample.value for sample in samples}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the test database (empty: see the `redis_url` fixture)."""
    connection = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener completes TCP connections (the kernel's backlog does) but never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_reachable_server_reports_up_with_host_and_port_in_every_name(redis_url: str) -> None:
    samples = collect_redis(redis_url).samples

    values = _values(samples, redis_url)
    assert values["up"] == 1.0
    assert all(sample.description for sample in samples)
    assert len({sample.name for sample in samples}) == len(samples)


def test_clients_and_memory_match_info(redis_url: str, client: redis.Redis) -> None:
    values = _values(collect_redis(redis_url).samples, redis_url)
    info = client.info()

    # The collector's own connection is gone by the time we ask; others may come and go.
    assert values["connected_clients"] == pytest.approx(info["connected_clients"], abs=5)
    assert values["blocked_clients"] == pytest.approx(info["blocked_clients"], abs=5)
    assert values["used_memory_bytes"] == pytest.approx(info["used_memory"], rel=0.1, abs=1_000_000)
    assert values["used_memory_rss_bytes"] == pytest.approx(info["used_memory_rss"], rel=0.1, abs=1_000_000)
    assert values["uptime_seconds"] == pytest.approx(info["uptime_in_seconds"], abs=3)
    assert values["mem_fragmentation_ratio"] > 0


def test_totals_never_exceed_what_info_reports_afterwards(redis_url: str, client: redis.Redis) -> None:
    values = _values(collect_redis(redis_url).samples, redis_url)
    info = client.info()

    for metric, field in [
        ("evicted_keys", "evicted_keys"),
        ("expired_keys", "expired_keys"),
        ("rejected_connections", "rejected_connections"),
    ]:
        assert 0 <= values[metric] <= info[field], metric


def test_rates_appear_on_second_cycle_and_are_never_negative(redis_url: str) -> None:
    first_cycle = collect_redis(redis_url)
    time.sleep(0.05)
    second = _values(collect_redis(redis_url, first_cycle.counters).samples, redis_url)
    first = _values(first_cycle.samples, redis_url)

    assert not [name for name in first if name.endswith("_per_second") and name != "ops_per_second"]
    for metric in RATE_METRICS:
        assert metric in second, metric
        assert second[metric] >= 0.0, metric


def test_commands_per_second_counts_the_commands_run_between_cycles(redis_url: str, client: redis.Redis) -> None:
    started = time.monotonic()
    first = collect_redis(redis_url)
    pipe = client.pipeline(transaction=False)
    for i in range(500):
        pipe.set(f"collector:cmd:{i}", i)
    pipe.execute()
    values = _values(collect_redis(redis_url, first.counters).samples, redis_url)
    # The collector's interval lies inside this window, so rate * window bounds the count from above.
    window = time.monotonic() - started

    assert values["commands_per_second"] * window >= 500


def test_keyspace_hit_ratio_reflects_the_gets_between_cycles(redis_url: str, client: redis.Redis) -> None:
    client.mset({f"collector:hit:{i}": i for i in range(10)})
    first = collect_redis(redis_url)
    pipe = client.pipeline(transaction=False)
    for i in range(3000):
        pipe.get(f"collector:hit:{i % 10}")
    for i in range(1000):
        pipe.get(f"collector:missing:{i}")
    pipe.execute()

    values = _values(collect_redis(redis_url, first.counters).samples, redis_url)

    # 3000 hits, 1000 misses: 75%, give or take lookups by other clients meanwhile.
    assert values["keyspace_hit_ratio"] == pytest.approx(75.0, abs=2)


def test_first_cycle_hit_ratio_covers_the_servers_lifetime(redis_url: str, client: redis.Redis) -> None:
    client.set("collector:hit", 1)
    client.get("collector:hit")
    client.get("collector:missing")

    values = _values(collect_redis(redis_url).samples, redis_url)
    stats = client.info("stats")

    lifetime = 100.0 * stats["keyspace_hits"] / (stats["keyspace_hits"] + stats["keyspace_misses"])
    assert values["keyspace_hit_ratio"] == pytest.approx(lifetime, abs=1)


def test_a_counter_reset_yields_no_negative_rate(redis_url: str) -> None:
    server = _server(redis_url)
    before = time.time() - 10
    previous = {f"redis.{metric}:{server}": (10**15, before) for metric in RATE_METRICS}
    previous[f"redis.keyspace_hits:{server}"] = (10**15, before)
    previous[f"redis.keyspace_misses:{server}"] = (10**15, before)

    reset = collect_redis(redis_url, previous)
    next_cycle = _values(collect_redis(redis_url, reset.counters).samples, redis_url)
    after_reset = _values(reset.samples, redis_url)

    assert not [metric for metric in RATE_METRICS if metric in after_reset]
    assert 0.0 <= after_reset.get("keyspace_hit_ratio", 0.0) <= 100.0
    assert all(next_cycle[metric] >= 0.0 for metric in RATE_METRICS)


def _collector_connections(client: redis.Redis) -> int:
    """The collector's connections from this process (workers of other test runs may share the server)."""
    mine = {f"{c.laddr.ip}:{c.laddr.port}" for c in psutil.Process().net_connections(kind="tcp")}
    return sum(1 for entry in client.client_list() if entry.get("name") == CLIENT_NAME and entry["addr"] in mine)


def test_it_keeps_one_named_connection_across_cycles(redis_url: str, client: redis.Redis) -> None:
    for _ in range(10):
        assert _values(collect_redis(redis_url).samples, redis_url)["up"] == 1.0

    # A connection per cycle, left open, would show as 10; a new one per cycle costs more CPU than INFO.
    assert _collector_connections(client) == 1


def test_a_restarted_server_is_reported_up_on_the_first_cycle_after_it_returns(tmp_path) -> None:
    with private_redis(tmp_path) as server:
        url = server.url()
        assert _values(collect_redis(url, timeout=1.0).samples, url)["up"] == 1.0
        server.stop()
        assert _values(collect_redis(url, timeout=1.0).samples, url) == {"up": 0.0}
        server.start()

        # The connection kept from before the restart is dead; the cycle retries once on a new one.
        assert _values(collect_redis(url, timeout=1.0).samples, url)["up"] == 1.0


def test_a_frozen_server_costs_one_timeout_and_is_up_again_once_thawed(tmp_path) -> None:
    with private_redis(tmp_path) as server:
        url = server.url()
        assert _values(collect_redis(url, timeout=1.0).samples, url)["up"] == 1.0
        server.freeze()
        try:
            started = time.monotonic()
            frozen = _values(collect_redis(url, timeout=1.0).samples, url)
            elapsed = time.monotonic() - started
        finally:
            server.thaw()

        assert frozen == {"up": 0.0}
        assert elapsed < 1.8  # one timeout: a timed-out command is not retried
        assert _values(collect_redis(url, timeout=1.0).samples, url)["up"] == 1.0


def test_unreachable_server_reports_up_zero_and_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    port = _closed_port()

    with caplog.at_level(logging.WARNING, logger="monitor.collection.collectors.redis"):
        samples = collect_redis(f"redis://127.0.0.1:{port}/0", timeout=1.0).samples

    assert [(sample.name, sample.value) for sample in samples] == [(f"redis.up:127.0.0.1:{port}", 0.0)]
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"127.0.0.1:{port}" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()


def test_it_returns_within_the_timeout_when_the_server_never_answers(silent_port: int) -> None:
    started = time.monotonic()
    samples = collect_redis(f"redis://127.0.0.1:{silent_port}/0", timeout=1.0).samples
    elapsed = time.monotonic() - started

    assert elapsed < 2.0
    assert [(sample.name, sample.value) for sample in samples] == [(f"redis.up:127.0.0.1:{silent_port}", 0.0)]


def test_a_url_that_is_not_redis_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        collect_redis("http://127.0.0.1:6379/0")


def test_counters_are_dated_by_the_servers_clock_and_rates_divide_by_its_span(redis_url: str, client) -> None:
    # Workers on other machines read the same server in turn: the server's clock is the one they share.
    def server_clock() -> float:
        return client.info("server")["server_time_usec"] / 1e6

    before = server_clock()
    first = collect_redis(redis_url)
    between = server_clock()
    second = collect_redis(redis_url, first.counters)
    after = server_clock()

    ((t0,),) = [{at for _, at in first.counters.values()}]
    ((t1,),) = [{at for _, at in second.counters.values()}]
    assert before <= t0 <= between <= t1 <= after
    name = f"redis.commands_per_second:{_server(redis_url)}"
    rate = {s.name: s.value for s in second.samples}[name]
    assert rate == (second.counters[name][0] - first.counters[name][0]) / (t1 - t0)


def test_a_server_that_is_down_leaves_no_readings_so_the_cycle_after_has_no_rates() -> None:
    assert collect_redis(f"redis://127.0.0.1:{_closed_port()}/0", timeout=1.0).counters == {}
