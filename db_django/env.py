"""Typed readers for environment variables.

A malformed value raises at start-up instead of silently falling back, so a typo
in a deployment shows up as a clear error and never as a surprising default.
"""

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """An environment variable holds a value the settings cannot use."""


# The query options a DATABASE_URL may carry (mysqlclient's connect() keywords that take these values).
TIMEOUT_OPTIONS = frozenset({"connect_timeout", "read_timeout", "write_timeout"})
TEXT_OPTIONS = frozenset({"ssl_mode", "unix_socket", "read_default_file", "read_default_group", "auth_plugin"})


# Strict mode; and on MariaDB (the /*M! comment is read by MariaDB only, MySQL skips it)
# no rewriting of long IN lists into a join: reads name their series as
# `series_id IN (...)`, and from 1,000 ids on MariaDB's default turned each
# per-series time range into a read of every sample (list pages took seconds).
MYSQL_INIT_COMMAND = (
    "SET sql_mode='STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
    " /*M!100318 , in_predicate_conversion_threshold=0 */"
)


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envrequired(name: str, hint: str) -> str:
    """A value production cannot run without: missing or empty stops start-up."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} must be set when DJANGO_DEBUG=0 ({hint})")
    return value


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def envint(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}")
    return value


def envfloat(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


def envlist(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """`600/minute` -> (600, 60): DRF's rate syntax (N/second|minute|hour|day; the first letter counts)."""
    number, _, period = rate.partition("/")
    try:
        limit, seconds = int(number), RATE_PERIODS[period.strip()[:1].lower()]
    except (ValueError, KeyError):
        raise ConfigError(f"{rate!r} is not a rate: use N/second, N/minute, N/hour or N/day") from None
    if limit < 1:
        raise ConfigError(f"{rate!r} allows nothing: the number must be at least 1")
    return limit, seconds


def envrate(name: str, default: str) -> str:
    """A rate such as `600/minute`, checked at start-up."""
    raw = os.environ.get(name, "").strip() or default
    try:
        parse_rate(raw)
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return raw


def database_from_url(url: str, sqlite_default: Path, variable: str = "DATABASE_URL") -> dict:
    """Turn `mysql://user:pass@host:port/name` or `sqlite:///path` into a DATABASES entry.

    MySQL connections get utf8mb4 (full Unicode), strict mode (bad data is an
    error, not a silent truncation) and short network timeouts so a dead or
    frozen server fails a request within seconds instead of hanging it: a
    request waits at most read_timeout for an answer on its connection (the
    health ping of a kept connection included), then connect_timeout for a new
    one. Both stay well under gunicorn's 30 s worker timeout, and read_timeout
    above DATABASE_STATEMENT_TIMEOUT, so a slow read is stopped by the server
    with a clear error before the client gives up on it. `migrate` gets longer
    ones (monitor/database.py): a schema change on a big table takes minutes.
    """
    if not url:
        return _sqlite(sqlite_default)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        # sqlite:///relative.db -> "/relative.db"; sqlite:////abs.db -> "//abs.db"
        if path.startswith("//"):
            path = path[1:]
        elif path.startswith("/"):
            path = path[1:]
        return _sqlite(Path(path) if path else sqlite_default)
    if scheme not in {"mysql", "mariadb"}:
        raise ConfigError(f"{variable} scheme {scheme!r} is not supported (use mysql:// or sqlite://)")
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ConfigError(f"{variable} has no database name (mysql://user:pass@host:3306/NAME)")
    query = dict(parse_qsl(parts.query))
    unknown = sorted(set(query) - TIMEOUT_OPTIONS - TEXT_OPTIONS)
    if unknown:
        known = ", ".join(sorted(TIMEOUT_OPTIONS | TEXT_OPTIONS))
        raise ConfigError(f"{variable} option {unknown[0]!r} is not one this app passes on (it takes: {known})")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{variable} port is not a number from 1 to 65535: {exc}") from None
    timeouts = {}
    for option, default in (("connect_timeout", 2), ("read_timeout", 5), ("write_timeout", 5)):
        text = query.pop(option, str(default))
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(f"{variable} {option}={text!r}: give whole seconds, at least 1")
        timeouts[option] = int(text)
    from MySQLdb.constants import CLIENT  # here: a SQLite-only setup never imports the MySQL driver

    options = {
        "charset": "utf8mb4",
        # FOUND_ROWS is Django's own flag (which this replaces). MULTI_STATEMENTS lets one
        # sample, its rollups and the transaction around them travel in one round trip
        # (monitor/storage/inserts.py); every statement the application sends is either
        # parameterized by Django or made of numbers it formats itself.
        "client_flag": CLIENT.FOUND_ROWS | CLIENT.MULTI_STATEMENTS,
        "init_command": MYSQL_INIT_COMMAND,
        **timeouts,
    }
    options.update(query)
    return {
        "ENGINE": "django.db.backends.mysql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(port or 3306),
        "OPTIONS": options,
        "CONN_MAX_AGE": 60,
        # A connection that went away (server restart) is dropped before reuse.
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
    }


def replica_from_url(url: str, primary: dict) -> dict:
    """`DATABASE_REPLICA_URL` -> the `replica` DATABASES entry: a MySQL replica of the MySQL `primary`.

    Same form and options as DATABASE_URL, but a 1 s connect timeout by default:
    a replica that does not answer is left for the primary (monitor/storage/router.py),
    so waiting long for it only delays the fallback. The test runner points it at
    the test database (MIRROR) instead of creating one.
    """
    if urlsplit(url).scheme.lower() not in {"mysql", "mariadb"}:
        raise ConfigError(f"DATABASE_REPLICA_URL={url!r} must be a mysql:// URL")
    if primary["ENGINE"] != "django.db.backends.mysql":
        raise ConfigError("DATABASE_REPLICA_URL needs a MySQL primary: set DATABASE_URL=mysql://... as well")
    query = dict(parse_qsl(urlsplit(url).query))
    entry = database_from_url(url, Path(), "DATABASE_REPLICA_URL")
    entry["OPTIONS"]["connect_timeout"] = int(query.get("connect_timeout", 1))
    entry["TEST"] = {"MIRROR": "default"}
    return entry


def cache_from_url(url: str) -> dict:
    """`redis://host:6379/2` -> Django's Redis cache; empty -> a per-process memory cache."""
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"CACHE_URL scheme of {url!r} is not supported (use redis://)")
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        # A cache outage must not hang requests: short socket timeouts, for the
        # TCP connect and for every read (redis-py does not retry on a pool
        # Django builds; tests/test_cache_outage.py measures both).
        "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
    }


def _sqlite(path: Path) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            # WAL lets the web process read while the worker writes; IMMEDIATE
            # takes the write lock up front so concurrent writers queue (up to
            # `timeout` seconds) instead of failing with "database is locked".
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        # Kept open between requests and tasks: closing the last connection to a
        # WAL database checkpoints it, which cost more than the work at 1 s cycles.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        # A file, not :memory:, so worker processes started by tests share it.
        "TEST": {"NAME": path.with_name(f"test_{path.name}")},
    }
