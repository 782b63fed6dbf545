"""Single-row POST of the notes' curl body: /monitor/resources/ vs the notes' ModelViewSet (baseline/).

Both endpoints are served by the same gunicorn (bench.settings = the project's
settings + bench/urls.py) on the scratch database: ours stores through
monitor.storage (catalog, sample, rollups, latest value), the notes' viewset
into its own table (bench_notes_resource, the notes' model); the load generator
(wrk when installed, else Python processes) keeps the same number of
connections busy on each. Two yardsticks run beside them: a plain Django view
doing one INSERT, and one answering without the database (bench/baseline.py).
A round interleaves all four in short slices (10 x 1 s each, the order
reversed every other slice), so what else the machine does hits all alike.
The CPU each party (gunicorn workers, MariaDB, wrk) spends per request is
recorded too.

    .venv/bin/python bench/post_one.py [--rounds 3] [--slices 10] [--slice-seconds 1] [--connections 8]
"""

import argparse
import json

import harness

# The notes' curl body (docs/, section 4), as the README quotes it.
BODY = json.dumps({"name": "CPU Usage", "value": 75.5, "description": "Average CPU usage in percentage"}).encode()
APP = "/monitor/resources/"
BASELINE = "/baseline/resources/"
# Where each side's rows go (the no-op view stores nothing).
TABLES = {"app": "monitor_sample", "baseline": "bench_notes_resource", "insert_only": "bench_notes_resource"}
PATHS = {
    "app": APP,
    "baseline": BASELINE,
    # Yardsticks (bench/baseline.py): one INSERT from a plain Django view; no database at all.
    "insert_only": "/baseline/insert-only/",
    "noop": "/baseline/noop/",
}


def main(rounds: int = 3, slices: int = 10, slice_seconds: float = 1, connections: int = 8) -> dict:
    harness.log(
        f"== single POST: {rounds} rounds of {slices} x {slice_seconds:g} s per endpoint, interleaved,"
        f" {connections} connections"
    )
    db = harness.prepare_scratch()
    harness.setup_django(db)
    from bench.baseline import create_notes_table

    create_notes_table()
    check = harness.connect(db)
    rates = {side: [] for side in PATHS}
    noise = []
    # CPU per request by party (gunicorn workers, MariaDB, wrk, whole machine), all rounds.
    cpu = {side: {} for side in PATHS}
    requests = dict.fromkeys(PATHS, 0)
    per_slice = {side: [] for side in PATHS}
    with harness.Gunicorn(name="post_one") as server:
        client = harness.Client(server.port)
        for side, path in PATHS.items():
            status, answer, _ = client.post(path, BODY)
            row = json.loads(answer)
            assert status == 201, (path, status, answer)
            assert side == "noop" or (row["name"] == "CPU Usage" and row["value"] == 75.5), (path, answer)
        for path in PATHS.values():  # warm every worker
            harness.load(server.port, path, 2, connections, BODY)

        def measurement():
            # Short slices, the order reversed every other slice: every endpoint sees the same
            # machine, whatever else it does meanwhile.
            done = {side: [0, 0.0] for side in PATHS}
            for i in range(slices):
                for side in list(PATHS) if i % 2 == 0 else list(PATHS)[::-1]:
                    table = TABLES.get(side, "monitor_sample")
                    before = harness.table_count(check, table)
                    split = harness.CpuSplit(server).start()
                    run = harness.load(server.port, PATHS[side], slice_seconds, connections, BODY)
                    for key, seconds in split.stop().items():
                        cpu[side][key] = cpu[side].get(key, 0.0) + seconds
                    requests[side] += run["requests"]
                    stored = harness.table_count(check, table) - before
                    # Every counted answer was a 201 with its row; requests still in flight when
                    # the generator stops are stored but not counted.
                    if side == "noop":
                        assert stored == 0, stored
                    else:
                        assert run["requests"] <= stored <= run["requests"] * 1.01 + 2 * connections, (run, stored)
                    done[side][0] += run["requests"]
                    done[side][1] += run["seconds"]
                    per_slice[side].append(run["rps"])
            return {side: count / seconds for side, (count, seconds) in done.items()}

        for r in range(rounds):
            run, foreign = harness.measured(f"round {r + 1}", measurement)
            for side in rates:
                rates[side].append(run[side])
            noise.append(foreign)
            harness.log(
                f"round {r + 1}: app {run['app']:,.0f} req/s, baseline {run['baseline']:,.0f} req/s,"
                f" ratio {run['app'] / run['baseline']:.2f}; insert-only view {run['insert_only']:,.0f},"
                f" no-op view {run['noop']:,.0f} (others: {foreign:.0f}% of a core)"
            )
    check.close()
    medians = {side: harness.median(values) for side, values in rates.items()}
    round_ratios = [a / b for a, b in zip(rates["app"], rates["baseline"], strict=True)]
    result = {
        "benchmark": "post_one",
        "body": BODY.decode(),
        "paths": PATHS,
        "connections": connections,
        "slices": slices,
        "slice_seconds": slice_seconds,
        "rounds": rounds,
        "load_tool": harness.load_tool(),
        "load_command": " ".join(harness.wrk_command(0, APP, slice_seconds, connections, "post.lua"))
        if harness.load_tool() == "wrk"
        else "python",
        "rps": rates,
        "median_rps": medians,
        "app_median": medians["app"],
        "baseline_median": medians["baseline"],
        "ratio_of_medians": medians["app"] / medians["baseline"],
        "round_ratios": round_ratios,
        "ratio": harness.median(round_ratios),
        "others_cpu_percent": noise,
        "slice_rps": per_slice,
        "cpu_ms_per_request": {
            side: {key: seconds / requests[side] * 1000 for key, seconds in cpu[side].items()} for side in cpu
        },
        "target": ">= 1.3x baseline",
    }
    for side, split in result["cpu_ms_per_request"].items():
        harness.log(f"CPU per request, {side}: " + ", ".join(f"{k} {v:.3f} ms" for k, v in split.items()))
    harness.log(
        f"single POST median: app {medians['app']:,.0f} req/s, notes' ModelViewSet {medians['baseline']:,.0f}"
        f" req/s, ratio {result['ratio']:.2f} (median of the rounds' ratios; ratio of the medians"
        f" {result['ratio_of_medians']:.2f}; target >= 1.3). Yardsticks: insert-only view"
        f" {medians['insert_only']:,.0f} req/s, no-op view {medians['noop']:,.0f} req/s"
    )
    harness.save("post_one", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slices", type=int, default=10, help="slices per endpoint and round")
    parser.add_argument("--slice-seconds", type=float, default=1)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    main(args.rounds, args.slices, args.slice_seconds, args.connections)
