"""Every benchmark in one command, then a summary of the figures BENCHMARKS.md reports.

    .venv/bin/python bench/run_all.py [--skip-profile]

Each benchmark migrates bench_db_django, puts its data set in place (loading
it the first time), starts its own gunicorn, measures, and stops it. Results:
JSON files in $BENCH_OUT (default /tmp/db_django-bench/).
"""

import argparse
import time

import harness
import ingest
import list_pages
import memory
import post_one
import profile_paths
import series


def main(skip_profile: bool = False) -> None:
    started = time.perf_counter()
    info = harness.machine()
    harness.log("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    harness.save("machine", info)
    bulk = ingest.main()
    one = post_one.main()
    pages = list_pages.main()
    rss = memory.main()
    points = series.main()
    if not skip_profile:
        profile_paths.main(["bulk", "post", "baseline-post"])
    minutes = (time.perf_counter() - started) / 60

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    harness.log("\n== summary (medians of 3 runs)")
    harness.log(
        f"bulk ingest: HTTP {bulk['http_median']:,.0f} rows/s vs raw executemany {bulk['raw_median']:,.0f} rows/s"
        f" = {bulk['ratio']:.2f} of raw (target >= 0.25: {verdict(bulk['ratio'] >= 0.25)})"
    )
    harness.log(
        f"single POST: {one['app_median']:,.0f} req/s vs notes' ModelViewSet {one['baseline_median']:,.0f} req/s"
        f" = {one['ratio']:.2f}x (target >= 1.3x: {verdict(one['ratio'] >= 1.3)});"
        f" insert-only view {one['median_rps']['insert_only']:,.0f}, no-op view {one['median_rps']['noop']:,.0f}"
    )
    for key, label in (("first", "list first page"), ("deep", "list page 10,000")):
        figure = pages[key]["median_ms"]
        harness.log(
            f"{label}: {figure:.2f} ms (SQL alone {pages[key]['sql_median_ms']:.2f} ms;"
            f" target < 20 ms: {verdict(figure < 20)})"
        )
    harness.log(
        f"series 24 h / 1 m in 10M rows: {points['avg']['median_ms']:.2f} ms (SQL alone"
        f" {points['avg']['sql_median_ms']:.2f} ms; target < 100 ms: {verdict(points['avg']['median_ms'] < 100)});"
        f" aggregate=last {points['last']['median_ms']:.2f} ms"
    )
    harness.log(
        f"worker RSS: {rss['rss_after_1000_kib'] / 1024:.1f} MiB after 1,000 list requests, "
        f"{rss['rss_after_end_kib'] / 1024:.1f} MiB after {rss['requests']:,}"
        f" ({rss['growth_median_kib'] / 1024:+.2f} MiB)"
    )
    harness.log(f"total time: {minutes:.1f} min")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-profile", action="store_true")
    main(parser.parse_args().skip_profile)
