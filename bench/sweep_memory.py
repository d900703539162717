"""Benchmark: peak memory of a 10,000-point sweep on a Dask LocalCluster of 2 workers.

A child process (the driver) runs a sweep of 100 x 100 points of the baseline on BTC/USD daily candles (the second
half of 2019: a short config, so that 10,000 backtests take minutes) on 2 worker processes, then computes its
summary (the best row's DSR, a Monte Carlo, the PBO over the 10,000 columns). ``slow`` changes the warm-up, so the
driver prepares 100 loads and every worker holds them. The driver's resident memory is sampled as points finish
(it must not grow with them), and at the end the driver and each worker report their peak resident memory
(``ru_maxrss``). The figure is driver + workers in GB (goal: <= 2 GB). Exits 1 when the goal is missed.

    .venv/bin/python bench/sweep_memory.py [--side 100]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

GOAL_GB = 2.0

CHILD = """
import json, os, resource, tempfile, time
from pathlib import Path
import psutil
from kraken_global.config import BacktestConfig
from kraken_global.distributed import dask_client
from kraken_global.runners.grid import parse_grid
from kraken_global.runners.sweep import run_sweep, sweep_summary

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def main():
    side = {side}
    folder = Path(tempfile.mkdtemp())
    os.environ["KRAKEN_GLOBAL_KEY_DIR"] = str(folder / "keys")  # the trial ledger's key: not the user's
    config = BacktestConfig().with_overrides({{
        "universe.pairs": ["BTC/USD"], "data.timeframe": "1d", "data.start": "2019-07-01", "data.end": "2019-12-15",
        "strategy.name": "baseline", "strategy.params": {{"fast": 5, "slow": 30}}, "run.max_grid_points": side * side,
        "ml.artifacts": str(folder / "artifacts")}})
    grid = parse_grid(["strategy.params.fast=" + ",".join(str(2 + i) for i in range(side)),
                       "strategy.params.slow=" + ",".join(str(2 + side + i) for i in range(side))])
    me, samples = psutil.Process(), {{}}

    def on_done(done, total):
        if done in (total // 10, total // 2, total):
            samples[done] = round(me.memory_info().rss / 1024 ** 2)

    started = time.perf_counter()
    with dask_client("local", workers=2) as client:
        store = run_sweep(config, grid, folder / "sweep", client, on_done)
        workers = client.run(peak_mb)
    summary = sweep_summary(store, config, grid)
    print(json.dumps({{"points": summary["finished"], "seconds": time.perf_counter() - started,
                      "driver_mb": peak_mb(), "workers_mb": sorted(workers.values()), "rss_samples": samples,
                      "pbo": summary["pbo"].get("pbo")}}))

if __name__ == "__main__":
    main()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=100, help="values per key: the grid is side x side points")
    args = parser.parse_args()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD.format(side=args.side)], capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    total_gb = (figures["driver_mb"] + sum(figures["workers_mb"])) / 1024
    samples = ", ".join(f"{mb} MB after {int(points):,}" for points, mb in sorted(figures["rss_samples"].items(),
                                                                                  key=lambda item: int(item[0])))
    print(f"{figures['points']:,} points in {time.perf_counter() - started:.0f} s; PBO over them {figures['pbo']}")
    print(f"driver resident memory as points finished: {samples}")
    workers = ", ".join(f"{mb:.0f}" for mb in figures["workers_mb"])
    print(f"peak: driver {figures['driver_mb']:.0f} MB, workers {workers} MB")
    print(f"peak memory of a {figures['points']:,}-point sweep: {total_gb:.2f} GB, driver + workers "
          f"(goal <= {GOAL_GB} GB)")
    return 0 if total_gb <= GOAL_GB else 1


if __name__ == "__main__":
    sys.exit(main())
