"""Benchmark: walk-forward training on a Dask LocalCluster of 2 workers against 1 worker.

The same folds and final fit (bundled hourly data of BTC, ETH, XRP and LTC, 2017-07 .. 2019-12) run on a cluster of
one worker process, then of two, each timed from submission to the last result (cluster start-up excluded); the
results must be identical. The figure is 1-worker seconds / 2-worker seconds (goal: >= 1.7 on a 2-core machine).
Exits 1 when the goal is missed or the results differ.

    .venv/bin/python bench/walk_forward_scaling.py [--folds 8]
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

from kraken_global.distributed import dask_client
from kraken_global.feeds import bundled_data_dir, load_candles
from kraken_global.feeds.sources import BUNDLED_FILES
from kraken_global.ml.training import TrainingSettings, train

GOAL = 1.7


def timed_training(workers: int, candles, settings) -> tuple[float, dict]:
    with dask_client("local", workers=workers) as client:
        client.wait_for_workers(workers)
        started = time.perf_counter()
        _, manifest = train(candles, settings, pd.Timedelta(hours=1), "{}", client=client)
        return time.perf_counter() - started, manifest["metrics"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=8)
    args = parser.parse_args()
    candles = {s: load_candles(bundled_data_dir() / name) for s, name in BUNDLED_FILES.items()}
    settings = TrainingSettings(folds=args.folds, seed=7)
    one_s, one = timed_training(1, candles, settings)
    two_s, two = timed_training(2, candles, settings)
    if one != two:
        print("results differ between 1 and 2 workers", file=sys.stderr)
        return 1
    ratio = one_s / two_s
    print(f"walk-forward ({args.folds} folds + final fit), 1 worker:  {one_s:.2f} s")
    print(f"walk-forward ({args.folds} folds + final fit), 2 workers: {two_s:.2f} s")
    print(f"walk-forward 2 workers vs 1: {ratio:.2f}x (goal >= {GOAL}x)")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
