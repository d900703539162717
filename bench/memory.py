"""Benchmark: peak memory of a backtest of 10 pairs x 1 year of 1-minute bars (5.26M bars).

A child process generates the seeded candles, runs the baseline strategy through ``NumpyFeed`` x 10, the Kraken
paper broker and the standard analyzers (the backtest path of ``kraken-global backtest``), and exits; the parent
reads the child's peak resident memory (``ru_maxrss``). The run keeps backtrader's defaults (preload, runonce):
``NumpyFeed`` fills each line from one contiguous buffer, and analyzers keep plain lists, so no memory-saving
mode is needed (``exactbars`` would also turn off runonce and slow the run several times). The figure is the peak
in GB (goal: <= 2 GB). Exits 1 when the goal is missed.

    .venv/bin/python bench/memory.py [--days 365]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

GOAL_GB = 2.0
HERE = Path(__file__).parent

CHILD = """
import sys
sys.path.insert(0, {here!r})
from synthetic import universe
from kraken_global.config import BacktestConfig, StrategyConfig
from kraken_global.assembly.cerebro import build_cerebro
candles = universe({days} * 1440, "1min")
config = BacktestConfig().with_overrides({{"data.timeframe": "1m", "strategy.name": "baseline",
                                          "strategy.params": {{"fast": 600, "slow": 2400}}}})
cerebro = build_cerebro(config, candles)
strategy = cerebro.run()[0]
print(sum(len(f) for f in candles.values()), strategy.analyzers.returns.get_analysis()["total_return_pct"])
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD.format(here=str(HERE), days=args.days)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 ** 2  # KiB on Linux
    bars, total_return = done.stdout.split()
    print(f"{int(bars):,} one-minute bars in {time.perf_counter() - started:.0f} s (return {float(total_return):.2f}%)")
    print(f"peak memory of the backtest: {peak_gb:.2f} GB (goal <= {GOAL_GB} GB)")
    return 0 if peak_gb <= GOAL_GB else 1


if __name__ == "__main__":
    sys.exit(main())
