"""The project's settings plus the `baseline/` routes (bench/urls.py) the benchmarks compare against."""

from db_django.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
