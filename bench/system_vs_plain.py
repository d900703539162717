"""Benchmark: the full regime system on the 10-pair universe against plain backtrader on the same 10 feeds.

Plain backtrader: ``bt.feeds.PandasData`` x 10 and a bare SMA crossover (one strategy, default cerebro). The
system: ``NumpyFeed`` x 10 with the regime plan, six strategies, the Kraken paper broker and every analyzer, as
``kraken-global backtest`` runs it. Same seeded hourly candles for both, timed in this process. The figure is
plain seconds / system seconds (goal: >= 1.0, the system at least as fast although it does far more). Exits 1 when
the goal is missed.

    .venv/bin/python bench/system_vs_plain.py [--days 730]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import backtrader as bt

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import universe

from kraken_global.assembly.cerebro import build_cerebro
from kraken_global.config import BacktestConfig

GOAL = 1.0


class SmaCross(bt.Strategy):
    params = (("fast", 50), ("slow", 200))

    def __init__(self) -> None:
        self.cross = {d: bt.ind.CrossOver(bt.ind.SMA(d.close, period=self.p.fast),
                                          bt.ind.SMA(d.close, period=self.p.slow)) for d in self.datas}

    def next(self) -> None:
        for data, cross in self.cross.items():
            if cross[0] > 0:
                self.buy(data=data, size=1)
            elif cross[0] < 0 and self.getposition(data).size:
                self.close(data=data)


def plain(candles) -> float:
    started = time.perf_counter()
    cerebro = bt.Cerebro()
    for symbol, frame in candles.items():
        cerebro.adddata(bt.feeds.PandasData(dataname=frame), name=symbol)
    cerebro.addstrategy(SmaCross)
    cerebro.run()
    return time.perf_counter() - started


def system(candles) -> float:
    config = BacktestConfig()
    started = time.perf_counter()
    build_cerebro(config, candles).run()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=730)
    args = parser.parse_args()
    candles = universe(args.days * 24, "1h")
    bars = sum(len(f) for f in candles.values())
    plain_s = plain(candles)
    system_s = system(candles)
    ratio = plain_s / system_s
    print(f"plain backtrader (PandasData + SMA cross): {plain_s:.2f} s for {bars:,} bars")
    print(f"kraken-global regime system:               {system_s:.2f} s for {bars:,} bars")
    print(f"full system vs plain backtrader: {ratio:.2f}x (goal >= {GOAL}x)")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
