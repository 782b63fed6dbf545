"""A gunicorn worker's memory over 10,000 list requests (10M samples), read from /proc/<pid>/status.

One worker (`-w 1`), so it serves every request; the client follows `next`
links from page 1 of the Resource list on bench_10m, as a frontend does, for
--pages pages, then starts again at page 1. A page after the first costs ~80 ms
on this data set (bench/list_pages.py), so the default, --pages 1 (the first
page every time), keeps a run to minutes; with --pages 10000 request 10,000
is page 10,000 and must equal the page bench/list_pages.py reaches with a
constructed cursor.
VmRSS (and the peak, VmHWM) is
read after 1, 100, 1,000, 2,000, ... 10,000 requests; each run has a fresh
worker of its own.

    .venv/bin/python bench/memory.py [--rounds 3] [--requests 10000] [--pages 1]
"""

import argparse
import contextlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import harness
import list_pages

NEXT = re.compile(rb'\{"next":(null|"([^"]+)")')
CHECKPOINTS = (1, 100, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000)


def walk(server: harness.Gunicorn, requests: int, pages: int, deep_ids: list[str]) -> dict[int, dict[str, int]]:
    (worker,) = server.worker_pids()
    client = harness.Client(server.port)
    readings = {0: harness.rss_kib(worker)}
    path, page = list_pages.URL, 1
    for i in range(1, requests + 1):
        status, answer, _ = client.get(path)
        assert status == 200, status
        # The answer starts with the `next` link; reading just that keeps the client light.
        found = NEXT.match(answer)
        link = found.group(2).decode() if found and found.group(2) else None
        if page == list_pages.DEEP_PAGE:
            rows = [row["id"] for row in json.loads(answer)["results"]]
            assert rows == deep_ids, "walked and constructed page 10,000 differ"
        if link is None or page >= pages:
            path, page = list_pages.URL, 1
        else:
            parts = urlsplit(link)
            path, page = f"{parts.path}?{parts.query}", page + 1
        if i in CHECKPOINTS or i == requests:
            readings[i] = harness.rss_kib(worker)
    return readings


def main(rounds: int = 3, requests: int = 10_000, pages: int = 1) -> dict:
    harness.log(f"== worker memory: {rounds} runs x {requests:,} list requests, {pages} page(s) a walk, gunicorn -w 1")
    db = harness.prepare_data()
    deep_ids = list_pages.deep_page(db)[1] if pages >= list_pages.DEEP_PAGE else []
    # The runs go side by side (one single-worker gunicorn and one client thread each): a
    # worker's memory does not depend on its neighbours, and three runs take the time of ~1.5.
    # Memory does not depend on speed: no repeat when the machine is busy, but say how busy.
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(harness.Gunicorn(workers=1, name=f"memory-{r}", db=db)) for r in range(rounds)]
        harness.wait_quiet()
        window = harness.CpuWindow(count_mariadb=False).start()
        with ThreadPoolExecutor(rounds) as pool:
            runs = list(pool.map(lambda server: walk(server, requests, pages, deep_ids), servers))
        foreign = window.stop()
    harness.log(f"others used {foreign:.0f}% of a core meanwhile")
    for r, readings in enumerate(runs):
        at_1k, at_end = readings[min(1000, requests)]["VmRSS"], readings[requests]["VmRSS"]
        harness.log(
            f"run {r + 1}: RSS {readings[1]['VmRSS'] / 1024:.1f} MiB after 1 request, {at_1k / 1024:.1f} MiB after "
            f"1,000, {at_end / 1024:.1f} MiB after {requests:,} ({(at_end - at_1k) / 1024:+.2f} MiB)"
        )
    growth = [run[requests]["VmRSS"] - run[min(1000, requests)]["VmRSS"] for run in runs]
    result = {
        "benchmark": "memory",
        "workers": 1,
        "requests": requests,
        "pages_per_walk": pages,
        "rounds": rounds,
        "rss_kib": [{str(k): v["VmRSS"] for k, v in run.items()} for run in runs],
        "hwm_kib": [run[requests]["VmHWM"] for run in runs],
        "rss_after_1000_kib": harness.median([run[min(1000, requests)]["VmRSS"] for run in runs]),
        "rss_after_end_kib": harness.median([run[requests]["VmRSS"] for run in runs]),
        "growth_1000_to_end_kib": growth,
        "growth_median_kib": harness.median(growth),
        "others_cpu_percent": foreign,
    }
    harness.log(
        f"worker RSS median: {result['rss_after_1000_kib'] / 1024:.1f} MiB after 1,000 requests, "
        f"{result['rss_after_end_kib'] / 1024:.1f} MiB after {requests:,} "
        f"(growth {result['growth_median_kib'] / 1024:+.2f} MiB)"
    )
    harness.save("memory", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=1, help="pages followed before starting again at page 1")
    args = parser.parse_args()
    main(args.rounds, args.requests, args.pages)
