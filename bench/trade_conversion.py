"""Benchmark: trades into candles in bounded memory, beside a plain ``pandas.read_csv`` of the same file.

Writes a seeded synthetic Kraken trade file (``unix_seconds,price,volume``, no header; default 20M rows, about
0.7 GB) once, then in two child processes measures (1) ``read_trade_candles`` turning it into 1h candles chunk by
chunk and (2) a plain ``pandas.read_csv`` of the whole file, each with its wall time and peak resident memory
(``ru_maxrss`` of the child). Goal: the conversion's peak under 500 MB whatever the file's size (it holds one
chunk, not the file). Exits 1 when the goal is missed.

    .venv/bin/python bench/trade_conversion.py [--rows 20000000] [--keep]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

GOAL_MB = 500
HERE = Path(__file__).parent
ROOT = HERE.parent

CONVERT = """
import sys, time
sys.path.insert(0, {root!r})
import pandas as pd
from kraken_global.feeds.trade_stream import read_trade_candles
t = time.perf_counter()
candles = read_trade_candles({path!r}, pd.Timedelta(hours=1))
print(time.perf_counter() - t, len(candles))
"""
PLAIN = """
import sys, time
import pandas as pd
t = time.perf_counter()
frame = pd.read_csv({path!r}, header=None, names=["time", "price", "volume"])
print(time.perf_counter() - t, len(frame))
"""


def write_trades(path: Path, rows: int, seed: int = 7, block: int = 2_000_000) -> None:
    """A random walk of trades a few seconds apart, written block by block (bounded memory here too)."""
    rng = np.random.default_rng(seed)
    t, price = 1_500_000_000.0, 5_000.0
    with open(path, "w") as handle:
        for start in range(0, rows, block):
            n = min(block, rows - start)
            times = t + np.cumsum(rng.exponential(3.0, n))
            prices = price * np.exp(np.cumsum(rng.normal(0.0, 2e-4, n)))
            volumes = rng.exponential(0.2, n)
            t, price = float(times[-1]), float(prices[-1])
            block_frame = pd.DataFrame({"time": np.round(times, 4), "price": np.round(prices, 1),
                                        "volume": np.round(volumes, 8)})
            block_frame.to_csv(handle, header=False, index=False)


def measure(code: str) -> tuple[float, int, float]:
    """(seconds, rows or candles, peak MB) of ``code`` run in a fresh child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    seconds, count = done.stdout.split()
    # ru_maxrss of children is the largest child so far: measure the smaller one first (see main)
    return float(seconds), int(count), max(peak_kb, before) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the synthetic file (printed path)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kg-trades-"))
    path = folder / "XBTUSD.csv"
    try:
        t = time.perf_counter()
        write_trades(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        print(f"synthetic trade file: {args.rows:,} rows, {size_mb:,.0f} MB, "
              f"written in {time.perf_counter() - t:.0f} s")
        seconds, candles, convert_mb = measure(CONVERT.format(root=str(ROOT), path=str(path)))
        print(f"streamed conversion: {candles:,} 1h candles in {seconds:.1f} s = {args.rows / seconds:,.0f} rows/s, "
              f"peak {convert_mb:,.0f} MB")
        plain_seconds, rows, plain_mb = measure(PLAIN.format(path=str(path)))
        assert rows == args.rows
        print(f"plain pandas.read_csv: {plain_seconds:.1f} s = {args.rows / plain_seconds:,.0f} rows/s, "
              f"peak {plain_mb:,.0f} MB")
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
            folder.rmdir()
    ok = convert_mb < GOAL_MB
    print(f"trade conversion: {args.rows / seconds:,.0f} rows/s (read_csv {args.rows / plain_seconds:,.0f}), "
          f"peak {convert_mb:,.0f} MB (goal < {GOAL_MB} MB): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
