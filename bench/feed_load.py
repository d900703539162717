"""Benchmark: NumpyFeed against backtrader's PandasData loading the same 200k one-minute bars.

Prints the time of each and the ratio (goal: NumpyFeed >= 5x faster), best of ``--repeat`` runs, both measured
in this process on the same data. Exits 1 when the goal is missed, so it can run in a scheduled job.

    .venv/bin/python bench/feed_load.py [--bars 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time

import backtrader as bt
import numpy as np
import pandas as pd

from kraken_global.feeds import NumpyFeed

GOAL = 5.0


def synthetic_minutes(bars: int, seed: int = 7) -> pd.DataFrame:
    """A random walk of one-minute candles (the speed of loading does not depend on the prices)."""
    rng = np.random.default_rng(seed)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 5e-4, bars)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 3e-4, bars)) * close
    index = pd.date_range("2023-01-01", periods=bars, freq="1min", name="datetime")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + spread,
                         "low": np.minimum(open_, close) - spread, "close": close,
                         "volume": rng.gamma(2.0, 1.5, bars)}, index=index)


def time_load(make_feed) -> tuple[float, int]:
    """Seconds to build and preload one feed, as cerebro does before a run (construct, start, preload)."""
    cerebro = bt.Cerebro()
    started = time.perf_counter()
    feed = make_feed()
    cerebro.adddata(feed)  # a feed needs its cerebro environment to start
    feed._start()
    feed.preload()
    return time.perf_counter() - started, feed.buflen()


def best_of(repeat: int, make_feed) -> tuple[float, int]:
    runs = [time_load(make_feed) for _ in range(repeat)]
    return min(seconds for seconds, _ in runs), runs[0][1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frame = synthetic_minutes(args.bars)
    pandas_s, pandas_len = best_of(args.repeat, lambda: bt.feeds.PandasData(dataname=frame))
    numpy_s, numpy_len = best_of(args.repeat, lambda: NumpyFeed(frame=frame, stamp_at_close=False))
    if pandas_len != numpy_len or numpy_len != args.bars:
        print(f"bar counts differ: PandasData {pandas_len}, NumpyFeed {numpy_len}", file=sys.stderr)
        return 1
    ratio = pandas_s / numpy_s
    print(f"bars loaded:          {args.bars}")
    print(f"PandasData build+preload: {pandas_s:.3f} s ({args.bars / pandas_s:,.0f} bars/s)")
    print(f"NumpyFeed build+preload:  {numpy_s:.3f} s ({args.bars / numpy_s:,.0f} bars/s)")
    print(f"feed load speed-up (NumpyFeed vs PandasData, goal >= {GOAL:.0f}x): {ratio:.1f}x")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
