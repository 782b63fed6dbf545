"""Where the time goes: cProfile of one API path, in-process (bench settings, MariaDB).

Calls Django's WSGI application as a gunicorn worker does (full middleware +
DRF stack; without the socket and gunicorn's HTTP parsing), first unprofiled
for the wall time per request, then under cProfile.
Prints own time grouped by layer and the top functions; the raw profile is
saved next to the other results (open it with `python -m pstats FILE`).
cProfile inflates code that makes many small Python calls, so read the
grouping as proportions, not as absolute times.

    .venv/bin/python bench/profile_paths.py [bulk] [post] [baseline-post] [list-first] [list-deep] [series]
"""

import argparse
import cProfile
import io
import itertools
import json
import pstats
import sys
import time

import harness
import ingest
import list_pages
import post_one
import series

# target: (data set, method, iterations)
TARGETS = {
    "bulk": ("scratch", "POST", 20),
    "post": ("scratch", "POST", 2000),
    "baseline-post": ("scratch", "POST", 2000),
    "list-first": ("1m", "GET", 500),
    "list-deep": ("1m", "GET", 500),
    "series": ("10m", "GET", 100),
}
LAYERS = [
    ("/MySQLdb/", "mysqlclient, Python side (escaping, building the statement)"),
    ("/django/db/", "Django ORM (model init, SQL compiling, value conversion)"),
    ("/rest_framework/", "DRF (request, parsing, serializers, rendering)"),
    ("/django/", "Django (handler, middleware, URL resolving, utils)"),
    ("/monitor/", "app code (monitor/)"),
    ("/bench/", "baseline code (bench/)"),
    ("/json/", "json (stdlib)"),
]


# Where a request spends its time, as cumulative time of a few functions (largest match wins,
# so a wrapper and the function it wraps are not added up).
MILESTONES = [
    ("django/core/handlers/base.py", "get_response", "Django request handling, all of it"),
    ("rest_framework/views.py", "dispatch", "DRF view (dispatch)"),
    ("rest_framework/views.py", "initial", "  DRF auth, permissions, throttles, negotiation"),
    ("rest_framework/request.py", "_parse", "  request body parsing (JSON)"),
    ("monitor/api/serializers.py", "parse_samples", "  app validation, array (parse_samples)"),
    ("monitor/api/serializers.py", "parse_sample", "  app validation, one sample (parse_sample)"),
    ("rest_framework/serializers.py", "is_valid", "  ModelSerializer validation (is_valid)"),
    ("rest_framework/serializers.py", "get_fields", "    ModelSerializer building its fields"),
    ("django/db/models/base.py", "__init__", "  model instances (Model.__init__)"),
    ("django/db/models/query.py", "bulk_create", "  bulk_create"),
    ("django/db/models/base.py", "save_base", "  Model.save"),
    ("django/db/models/sql/compiler.py", "as_sql", "    ORM SQL compiling (as_sql)"),
    ("MySQLdb/cursors.py", "_mogrify", "    mysqlclient quoting the parameters"),
    ("django/db/backends/mysql/base.py", "execute", "    SQL execution (mysqlclient + server)"),
    ("rest_framework/serializers.py", "data", "  ModelSerializer output (.data)"),
    ("rest_framework/response.py", "rendered_content", "  JSON rendering"),
    ("django/db/__init__.py", "close_old_connections", "  connection checks at request start/end"),
]


def milestones(stats: pstats.Stats, requests: int, total: float) -> list[tuple[str, float, float]]:
    rows = []
    for path, name, label in MILESTONES:
        found = [v[3] for (filename, _, func), v in stats.stats.items() if func == name and filename.endswith(path)]
        if found:
            rows.append((label, max(found) / requests * 1000, max(found) / total * 100))
    return rows


def layer(func: tuple) -> str:
    filename, _, name = func
    if filename == "~":
        if "_mysql" in name or "Connection.query" in name:
            return "MariaDB round trips (mysqlclient C: send, server work, receive)"
        if "json" in name:
            return "json (stdlib)"
        return "Python builtins (str, dict, datetime, ...)"
    for marker, label in LAYERS:
        if marker in filename:
            return label
    return "other Python (stdlib, site-packages)"


def wsgi_caller():
    """Call Django's WSGI application the way a gunicorn worker does, minus the socket and HTTP parsing."""
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()

    def call(method: str, path: str, body: bytes = b"") -> int:
        path_info, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path_info,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_USER_AGENT": "bench",
            "HTTP_ACCEPT": "*/*",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if body:
            environ["CONTENT_TYPE"] = "application/json"
            environ["CONTENT_LENGTH"] = str(len(body))
        status = []
        response = app(environ, lambda line, headers, exc_info=None: status.append(line))
        b"".join(response)
        response.close()  # request_finished: what gunicorn triggers after sending
        return int(status[0].split()[0])

    return call


def request_maker(target: str, count: int):
    call = wsgi_caller()
    if target == "bulk":
        # Repeats are fine (no unique key) and let a repeated measurement go on.
        bodies = itertools.cycle([json.dumps(batch).encode() for batch in ingest.make_batches(10_000, min(count, 10))])
        return (lambda: call("POST", ingest.URL, next(bodies))), 201
    if target in ("post", "baseline-post"):
        path = post_one.APP if target == "post" else post_one.BASELINE
        return (lambda: call("POST", path, post_one.BODY)), 201
    if target == "list-first":
        return (lambda: call("GET", list_pages.URL)), 200
    if target == "list-deep":
        conn = harness.connect()
        path, _ = list_pages.deep_page(conn)
        conn.close()
        return (lambda: call("GET", path)), 200
    path = series.series_url("avg")
    return (lambda: call("GET", path)), 200


def profile(target: str, top: int = 25) -> dict:
    dataset, method, iterations = TARGETS[target]
    harness.log(f"== profile {target} ({method}, {iterations} requests in-process, WSGI)")
    harness.log(f"table: {harness.prepare(dataset)}")
    harness.setup_django()
    warm = max(2, iterations // 20)
    send, expected = request_maker(target, warm + 2 * iterations)
    for _ in range(warm):
        assert send() == expected

    def measurement():
        started = time.perf_counter()
        for _ in range(iterations):
            send()
        return (time.perf_counter() - started) / iterations

    wall, _ = harness.measured(target, measurement)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(iterations):
        send()
    profiler.disable()
    out = harness.OUT_DIR / f"profile-{target}.pstats"
    profiler.dump_stats(out)
    stats = pstats.Stats(profiler)
    total = sum(entry[2] for entry in stats.stats.values())  # own time
    layers: dict[str, float] = {}
    for func, (_, _, own, _, _) in stats.stats.items():
        layers[layer(func)] = layers.get(layer(func), 0) + own
    harness.log(f"wall time per request, unprofiled: {wall * 1000:.3f} ms")
    harness.log("own time by layer (profiled):")
    for name, seconds in sorted(layers.items(), key=lambda item: -item[1]):
        harness.log(f"  {seconds / total * 100:5.1f}%  {name}")
    harness.log("cumulative time per request (profiled) of:")
    wall_profiled = max(v[3] for v in stats.stats.values())
    steps = milestones(stats, iterations, wall_profiled)
    for label, per_request, share in steps:
        harness.log(f"  {per_request:8.3f} ms {share:5.1f}%  {label}")
    harness.log(f"top {top} functions by own time:")
    stats.sort_stats("tottime").print_stats(top)
    harness.log("top functions by cumulative time:")
    stats.sort_stats("cumulative").print_stats(top)
    return {
        "target": target,
        "wall_ms": wall * 1000,
        "layers_percent": {k: v / total * 100 for k, v in sorted(layers.items(), key=lambda item: -item[1])},
        "milestones_ms_profiled": {label.strip(): per_request for label, per_request, _ in steps},
        "pstats": str(out),
    }


def main(targets: list[str]) -> dict:
    results = {target: profile(target) for target in targets}
    harness.save("profile", results)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help=f"any of {', '.join(TARGETS)} (default: bulk post baseline-post)")
    args = parser.parse_args()
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown target(s): {', '.join(sorted(unknown))}")
    main(args.targets or ["bulk", "post", "baseline-post"])
