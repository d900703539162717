"""Benchmark: sweep points per minute on a Dask LocalCluster of 2 workers against 1 worker.

The same 24-point sweep (the baseline on BTC, ETH and XRP at 1h over 2019; ``slow`` changes the warm-up, so the
driver prepares four loads of candles and sends them to the workers) runs on a cluster of one worker process, then
of two, each timed from the call to the last point written (cluster start-up and the workers' first imports
excluded); the tables must be identical. The figure is 2-worker points/minute / 1-worker points/minute (goal:
>= 1.7 on a 2-core machine). Exits 1 when the goal is missed or the tables differ.

    .venv/bin/python bench/sweep_scaling.py [--points 24]
"""

from __future__ import annotations

import argparse
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


def timed_sweep(workers: int, grid, folder: Path) -> tuple[float, pd.DataFrame]:
    with dask_client("local", workers=workers) as client:
        client.wait_for_workers(workers)
        client.run(warm_up)
        started = time.perf_counter()
        store = run_sweep(config(folder), grid, folder / f"workers-{workers}", client)
        return time.perf_counter() - started, store.table()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=24, help="grid points (a multiple of 4, at most 32)")
    args = parser.parse_args()
    fast = FAST[:max(1, args.points // len(SLOW))]
    grid = parse_grid([f"strategy.params.fast={','.join(map(str, fast))}",
                       f"strategy.params.slow={','.join(map(str, SLOW))}"])
    with tempfile.TemporaryDirectory() as tmp:
        one_s, one = timed_sweep(1, grid, Path(tmp))
        two_s, two = timed_sweep(2, grid, Path(tmp))
    if not one.equals(two):
        print("the tables differ between 1 and 2 workers", file=sys.stderr)
        return 1
    one_rate, two_rate = grid.size / one_s * 60, grid.size / two_s * 60
    ratio = two_rate / one_rate
    print(f"sweep of {grid.size} points, 1 worker:  {one_s:.1f} s ({one_rate:.0f} points/minute)")
    print(f"sweep of {grid.size} points, 2 workers: {two_s:.1f} s ({two_rate:.0f} points/minute)")
    print(f"sweep 2 workers vs 1: {ratio:.2f}x points per minute (goal >= {GOAL}x)")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
