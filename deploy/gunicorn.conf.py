"""gunicorn settings of the production web process (deploy/systemd/db_django-web.service).

    .venv/bin/gunicorn -c deploy/gunicorn.conf.py db_django.wsgi

Threaded workers behind nginx (deploy/nginx/db_django.conf): nginx reads each
request whole and takes each answer at once, so a thread is busy only while
the app works; without nginx in front, clients that send a body slowly hold
every thread (tests/test_slow_clients.py shows both). Threads, not one request
per process: when the database freezes, the requests already waiting on it
hold their threads for at most the connection's read timeout (5 s), while the
app keeps a few threads per process free (DATABASE_REQUEST_SLOTS) for health
and quick 503s (tests/test_faults_database.py). A gthread worker reports alive
from its main loop, so gunicorn never kills it for one stuck request.
Override any setting without editing this file, e.g. in /etc/db_django/env:
GUNICORN_CMD_ARGS="--bind 127.0.0.1:8001 --workers 8".
"""

# Loopback only: nginx is the one client (the upstream in the nginx site).
bind = "127.0.0.1:8000"
# Four processes of eight threads: up to 32 database connections from the web
# (MariaDB allows 151 by default). Keep threads above DATABASE_REQUEST_SLOTS (6).
workers = 4
worker_class = "gthread"
threads = 8
# A worker silent for this long is killed and replaced. nginx gives up earlier
# (proxy_read_timeout 20 s), and the app's own time limits are shorter still.
timeout = 30
# On SIGTERM or HUP, running requests get this long to finish.
graceful_timeout = 20
# The request line may be as long as nginx lets through (large_client_header_buffers: 8 KB), not
# gunicorn's default 4 KB: a next link repeats the query's filters and its cursor carries them too, so
# a long name in CJK characters (9 bytes each, percent-encoded) outgrew 4 KB and met gunicorn's HTML 414.
limit_request_line = 8190
# X-Forwarded-* are believed only from nginx on this machine.
forwarded_allow_ips = "127.0.0.1,::1"
# nginx logs each request; gunicorn's errors go to stderr (the journal).
accesslog = None
errorlog = "-"

# nginx never sends more (client_max_body_size 3m); the margin covers the headers.
DRAIN_LIMIT = 4 * 1024 * 1024


def post_request(worker, req, environ, resp) -> None:
    """Read whatever the app left of the request body before gunicorn closes the connection.

    The app answers some requests without reading their body: 401, 403 and 429
    before parsing, 413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE. Closing a
    socket with unread data in it makes the kernel reset the connection, and nginx,
    still sending that body, then answers 502 in place of the app's answer
    (gunicorn's own close drains only 64 KB). Behind nginx the rest of the body
    arrives at once, from nginx's buffer; tests/test_slow_clients.py posts 2.5 MB.
    """
    stream = environ.get("wsgi.input")
    left = DRAIN_LIMIT
    try:
        while stream is not None and left > 0:
            chunk = stream.read(min(64 * 1024, left))
            if not chunk:
                break
            left -= len(chunk)
    except Exception:  # the client went away: nothing left to protect
        worker.log.debug("request body not drained", exc_info=True)


def on_starting(server) -> None:
    """prometheus-client's multiprocess mode (monitor/exposition/multiprocess.py): a fresh folder for the
    workers' counters, named in PROMETHEUS_MULTIPROC_DIR before any worker starts, so that /monitor/metrics
    adds up every worker's requests instead of reporting the one the scrape reached."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from monitor.exposition.multiprocess import prepare

    folder = prepare(str(root / "var"))
    server.log.info("prometheus-client multiprocess folder: %s", folder)


def child_exit(server, worker) -> None:
    """A worker ended: its live gauges go with it (its counts stay in the totals)."""
    from monitor.exposition.multiprocess import worker_exited

    worker_exited(worker.pid)
