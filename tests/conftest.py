"""Shared fixtures: real MySQL/MariaDB and Redis servers when reachable.

Tests that need a server skip when it is not there, so `make test` passes on a
bare machine; `.ci/run` sets REQUIRE_SERVICES=1, which turns those skips into
failures so CI can never pass without having talked to the real servers.
"""

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from procs import listening
from servers import TEST_DB_PREFIX, private_redis

MYSQL_URL = os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/")
# Unset: a redis-server of the session's own (tests/servers.py). Set: a database
# the developer gives the tests, which they flush before and after every test.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    return listening(parts.hostname or "127.0.0.1", parts.port or default_port)


def _need(url: str, port: int, what: str) -> None:
    if _reachable(url, port):
        return
    message = f"{what} not reachable at {url}"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """URL of a MySQL/MariaDB server the tests may create databases on."""
    _need(MYSQL_URL, 3306, "MySQL")
    return MYSQL_URL


@pytest.fixture(scope="session")
def redis_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis database that is the tests' own: TEST_REDIS_URL when set, else a private redis-server.

    The private server (on a spare port, in memory, stopped at the end of the
    session) means a test run never flushes a database anyone else uses.
    Without redis-server installed the tests that need it skip, or fail under
    REQUIRE_SERVICES=1.
    """
    if REDIS_URL:
        _need(REDIS_URL, 6379, "Redis")
        yield REDIS_URL
        return
    with private_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url()


@pytest.fixture
def redis_url(redis_database: str) -> Iterator[str]:
    """The tests' Redis database, empty when the test starts and emptied again when it ends, pass or fail."""
    _flush(redis_database)
    try:
        yield redis_database
    finally:
        _flush(redis_database)


def _flush(url: str) -> None:
    import redis

    with redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5) as client:
        client.flushdb()


@pytest.fixture(scope="session")
def mariadb_template(tmp_path_factory):
    """A migrated MariaDB data directory, built once per session and copied by each test (servers.private_mariadb)."""
    from servers import build_mariadb_template

    return build_mariadb_template(tmp_path_factory.mktemp("mariadb-template"))


@pytest.fixture
def on_mysql(settings) -> None:
    """Skip (or fail under REQUIRE_SERVICES) unless the default database is MySQL."""
    from django.db import connection

    if connection.vendor != "mysql":
        if os.environ.get("REQUIRE_MYSQL_DEFAULT") == "1":
            pytest.fail("the default database must be MySQL in this run")
        pytest.skip("default database is not MySQL (set DATABASE_URL=mysql://...)")


@pytest.fixture(autouse=True)
def fresh_catalog_cache() -> None:
    """Each test's database starts empty: series ids a previous test cached in this process are void,
    and so is the fold watermark it last read."""
    from monitor.storage import catalog, folding, inserts

    catalog.forget()
    inserts.forget_hosts()
    folding.forget_hint()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """One SQLite test file per test run, so two runs on one machine never share it; on MySQL
    the test database is TEST_DB_PREFIX + the database's name instead of Django's `test_` + it."""
    from pathlib import Path

    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        name = Path(database["TEST"]["NAME"])
        database["TEST"]["NAME"] = name.with_name(f"{name.stem}_{os.getpid()}{name.suffix}")
    elif database["ENGINE"].endswith("mysql"):
        test = database.setdefault("TEST", {})
        name = test.get("NAME") or f"test_{database['NAME']}"  # the xdist suffix, if any, is kept
        test["NAME"] = TEST_DB_PREFIX + name.removeprefix("test_")


# Property tests draw the same examples on every run: CI stays reproducible, and
# a failure seen once can be run again. Explore more with HYPOTHESIS_PROFILE=explore.
from hypothesis import settings as hypothesis_settings  # noqa: E402

hypothesis_settings.register_profile("deterministic", derandomize=True, deadline=None)
hypothesis_settings.register_profile("explore", max_examples=1000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture
def without_shipped_rules(request) -> None:
    """No shipped alert rules (migration 0014) in a database test: its alerts are those of the rules it makes.

    For the alert tests: `pytest.mark.usefixtures("without_shipped_rules")`.
    """
    if request.node.get_closest_marker("django_db"):  # the test database is set up by then
        from alert_receivers import only_our_rules

        only_our_rules()
