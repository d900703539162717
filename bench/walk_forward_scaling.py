"""Benchmark: walk-forward training on a Dask LocalCluster of 2 workers against 1 worker.

The same folds and final fit (bundled hourly data of BTC, ETH, XRP and LTC, 2017-07 .. 2019-12) run on a cluster of
one worker process and on one of two, alternately (``--repeats`` of each; the fastest run of each counts, the
least disturbed on a shared machine), each timed from submission to the last result (cluster start-up and the
workers' imports excluded); the results must be identical. The figure is 1-worker seconds / 2-worker seconds
(goal: >= 1.7 on a 2-core machine). Exits 1 when the goal is missed or the results differ.

    .venv/bin/python bench/walk_forward_scaling.py [--folds 8] [--repeats 2]
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


def warm_up() -> None:
    import kraken_global.ml.training  # noqa: F401  (scikit-learn: the import a first fit would pay for)


def timed_training(client, candles, settings) -> tuple[float, dict]:
    started = time.perf_counter()
    _, manifest = train(candles, settings, pd.Timedelta(hours=1), "{}", client=client)
    return time.perf_counter() - started, manifest["metrics"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each size, alternated; the fastest counts")
    args = parser.parse_args()
    candles = {s: load_candles(bundled_data_dir() / name) for s, name in BUNDLED_FILES.items()}
    settings = TrainingSettings(folds=args.folds, seed=7)
    seconds: dict[int, list[float]] = {1: [], 2: []}
    results = []
    with dask_client("local", workers=1) as one, dask_client("local", workers=2) as two:
        clusters = {1: one, 2: two}
        for workers, client in clusters.items():
            client.wait_for_workers(workers)
            client.run(warm_up)
        for _ in range(args.repeats):
            for workers, client in clusters.items():
                elapsed, result = timed_training(client, candles, settings)
                seconds[workers].append(elapsed)
                results.append(result)
    if any(result != results[0] for result in results):
        print("results differ between 1 and 2 workers", file=sys.stderr)
        return 1
    one_s, two_s = min(seconds[1]), min(seconds[2])
    ratio = one_s / two_s
    runs = {workers: ", ".join(f"{s:.2f}" for s in times) for workers, times in seconds.items()}
    print(f"walk-forward ({args.folds} folds + final fit), 1 worker:  {one_s:.2f} s (runs {runs[1]} s)")
    print(f"walk-forward ({args.folds} folds + final fit), 2 workers: {two_s:.2f} s (runs {runs[2]} s)")
    print(f"walk-forward 2 workers vs 1: {ratio:.2f}x (goal >= {GOAL}x)")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
