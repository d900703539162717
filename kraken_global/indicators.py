"""Rolling indicators whose runonce pass is one vectorized pandas call.

backtrader's ``SMA`` and ``StdDev`` recompute every window with ``math.fsum`` in their ``once`` pass, and
``Highest``/``Lowest`` with ``max``/``min`` over a slice: O(bars x period) in Python, which profiling showed as
the largest single cost of a regime-system backtest (periods of hundreds of hourly bars). These compute the same
values with pandas' rolling windows (compensated sums, so means agree with ``fsum`` to about 1e-12 relative;
maxima and minima exactly) in ``once``, and window by window in ``next`` (live runs). The values of bar
*t* use bars <= *t* only, as before.
"""

from __future__ import annotations

import math
from array import array

import backtrader as bt
import numpy as np
import pandas as pd


def _write(line, start: int, end: int, values: np.ndarray) -> None:
    chunk = array("d")
    chunk.frombytes(np.ascontiguousarray(values[start:end], dtype="float64").tobytes())
    line.array[start:end] = chunk


class RollingMean(bt.Indicator):
    """The simple moving average of ``period`` bars (drop-in for ``bt.ind.SMA``)."""

    lines = ("mean",)
    params = (("period", 30),)

    def __init__(self) -> None:
        self.addminperiod(self.p.period)

    def next(self) -> None:
        self.lines.mean[0] = math.fsum(self.data.get(size=self.p.period)) / self.p.period

    def once(self, start: int, end: int) -> None:
        values = pd.Series(np.asarray(self.data.array[:end], dtype="float64"))
        _write(self.lines.mean, start, end, values.rolling(self.p.period).mean().to_numpy())


class RollingStd(bt.Indicator):
    """The population standard deviation of ``period`` bars (drop-in for ``bt.ind.StdDev``)."""

    lines = ("std",)
    params = (("period", 20),)

    def __init__(self) -> None:
        self.addminperiod(self.p.period)

    def next(self) -> None:
        window = np.asarray(self.data.get(size=self.p.period), dtype="float64")
        self.lines.std[0] = float(np.sqrt(np.mean((window - window.mean()) ** 2)))

    def once(self, start: int, end: int) -> None:
        values = pd.Series(np.asarray(self.data.array[:end], dtype="float64"))
        _write(self.lines.std, start, end, values.rolling(self.p.period).std(ddof=0).to_numpy())


class RollingMax(bt.Indicator):
    """The highest value of ``period`` bars (drop-in for ``bt.ind.Highest``)."""

    lines = ("highest",)
    params = (("period", 30),)

    def __init__(self) -> None:
        self.addminperiod(self.p.period)

    def next(self) -> None:
        self.lines.highest[0] = max(self.data.get(size=self.p.period))

    def once(self, start: int, end: int) -> None:
        values = pd.Series(np.asarray(self.data.array[:end], dtype="float64"))
        _write(self.lines.highest, start, end, values.rolling(self.p.period).max().to_numpy())


class RollingMin(bt.Indicator):
    """The lowest value of ``period`` bars (drop-in for ``bt.ind.Lowest``)."""

    lines = ("lowest",)
    params = (("period", 30),)

    def __init__(self) -> None:
        self.addminperiod(self.p.period)

    def next(self) -> None:
        self.lines.lowest[0] = min(self.data.get(size=self.p.period))

    def once(self, start: int, end: int) -> None:
        values = pd.Series(np.asarray(self.data.array[:end], dtype="float64"))
        _write(self.lines.lowest, start, end, values.rolling(self.p.period).min().to_numpy())
