"""The project's settings plus the `baseline/` routes (bench/urls.py) the benchmarks compare against.

BENCH_IN_PREDICATE_OFF=1 (bench/list_pages.py, bench/memory.py) adds
`in_predicate_conversion_threshold=0` to MariaDB's session settings: from 1,000
values on, MariaDB turns `series_id IN (...)` into a join that reads every
sample of each series instead of one time range each (see BENCHMARKS.md, list).
"""

import os

from db_django.settings import *  # noqa: F403
from db_django.settings import DATABASES

ROOT_URLCONF = "bench.urls"

if os.environ.get("BENCH_IN_PREDICATE_OFF") == "1":
    for database in DATABASES.values():
        if database["ENGINE"].endswith("mysql"):
            options = database.setdefault("OPTIONS", {})
            command = options.get("init_command", "")
            rest = ", " + command.removeprefix("SET ") if command.startswith("SET ") else ""
            assert rest or not command, command
            options["init_command"] = "SET in_predicate_conversion_threshold=0" + rest
