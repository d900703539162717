"""Benchmark: sweep points per minute on a Dask LocalCluster of 2 workers against 1 worker.

The same 24-point sweep (the baseline on BTC, ETH and XRP at 1h over 2019; ``slow`` changes the warm-up, so the
driver prepares four loads of candles and sends them to the workers) runs on a cluster of one worker process and
on one of two, alternately (``--repeats`` of each: the machine is shared, and the fastest run of each is the one
least disturbed), each timed from the call to the last point written (cluster start-up and the workers' first
imports excluded); the tables must be identical. The figure is 2-worker points/minute / 1-worker points/minute
(goal: >= 1.7 on a 2-core machine). Exits 1 when the goal is missed or the tables differ.

    .venv/bin/python bench/sweep_scaling.py [--points 24] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from kraken_global.config import BacktestConfig
from kraken_global.distributed import dask_client
from kraken_global.runners.grid import parse_grid
from kraken_global.runners.sweep import run_sweep

GOAL = 1.7
FAST = (100, 150, 200, 250, 300, 350, 400, 450)
SLOW = (600, 800, 1000, 1200)


def config(folder: Path) -> BacktestConfig:
    return BacktestConfig().with_overrides({
        "universe.pairs": ["BTC/USD", "ETH/USD", "XRP/USD"], "data.start": "2019-01-01", "data.end": "2019-12-15",
        "strategy.name": "baseline", "strategy.params": {"fast": 240, "slow": 1200},
        "ml.artifacts": str(folder / "artifacts")})


def warm_up() -> None:
    import kraken_global.runners.backtest  # noqa: F401  (the imports a first point would pay for)


def timed_sweep(client, grid, folder: Path) -> tuple[float, pd.DataFrame]:
    started = time.perf_counter()
    store = run_sweep(config(folder.parent), grid, folder, client)
    return time.perf_counter() - started, store.table()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=24, help="grid points (a multiple of 4, at most 32)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each size, alternated; the fastest counts")
    args = parser.parse_args()
    fast = FAST[:max(1, args.points // len(SLOW))]
    grid = parse_grid([f"strategy.params.fast={','.join(map(str, fast))}",
                       f"strategy.params.slow={','.join(map(str, SLOW))}"])
    seconds: dict[int, list[float]] = {1: [], 2: []}
    tables = []
    with tempfile.TemporaryDirectory() as tmp, dask_client("local", workers=1) as one, \
            dask_client("local", workers=2) as two:
        os.environ["KRAKEN_GLOBAL_KEY_DIR"] = str(Path(tmp) / "keys")  # the trial ledger's key: not the user's
        clusters = {1: one, 2: two}
        for workers, client in clusters.items():
            client.wait_for_workers(workers)
            client.run(warm_up)
        for repeat in range(args.repeats):
            for workers, client in clusters.items():
                elapsed, table = timed_sweep(client, grid, Path(tmp) / f"workers-{workers}-{repeat}")
                seconds[workers].append(elapsed)
                tables.append(table)
    if any(not table.equals(tables[0]) for table in tables):
        print("the tables differ between runs", file=sys.stderr)
        return 1
    one_s, two_s = min(seconds[1]), min(seconds[2])
    one_rate, two_rate = grid.size / one_s * 60, grid.size / two_s * 60
    ratio = two_rate / one_rate
    runs = {workers: ", ".join(f"{s:.1f}" for s in times) for workers, times in seconds.items()}
    print(f"sweep of {grid.size} points, 1 worker:  {one_s:.1f} s ({one_rate:.0f} points/minute; runs {runs[1]} s)")
    print(f"sweep of {grid.size} points, 2 workers: {two_s:.1f} s ({two_rate:.0f} points/minute; runs {runs[2]} s)")
    print(f"sweep 2 workers vs 1: {ratio:.2f}x points per minute (goal >= {GOAL}x)")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
