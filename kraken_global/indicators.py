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


class _RollingWindow(bt.Indicator):
    """A statistic of the last ``period`` bars: ``window(values)`` bar by bar in next mode, ``rolled(rolling)``
    over every bar at once in runonce mode (one pandas call)."""

    params = (("period", 30),)

    def __init__(self) -> None:
        self.addminperiod(self.p.period)

    def next(self) -> None:
        self.lines[0][0] = self.window(self.data.get(size=self.p.period))

    def once(self, start: int, end: int) -> None:
        values = pd.Series(np.asarray(self.data.array[:end], dtype="float64"))
        _write(self.lines[0], start, end, self.rolled(values.rolling(self.p.period)).to_numpy())

    def window(self, values) -> float:
        raise NotImplementedError

    def rolled(self, rolling) -> pd.Series:
        raise NotImplementedError


class RollingMean(_RollingWindow):
    """The simple moving average of ``period`` bars (drop-in for ``bt.ind.SMA``)."""

    lines = ("mean",)

    def window(self, values) -> float:
        return math.fsum(values) / self.p.period

    def rolled(self, rolling) -> pd.Series:
        return rolling.mean()


class RollingStd(_RollingWindow):
    """The population standard deviation of ``period`` bars (drop-in for ``bt.ind.StdDev``)."""

    lines = ("std",)
    params = (("period", 20),)

    def window(self, values) -> float:
        window = np.asarray(values, dtype="float64")
        return float(np.sqrt(np.mean((window - window.mean()) ** 2)))

    def rolled(self, rolling) -> pd.Series:
        return rolling.std(ddof=0)


class RollingMax(_RollingWindow):
    """The highest value of ``period`` bars (drop-in for ``bt.ind.Highest``)."""

    lines = ("highest",)

    def window(self, values) -> float:
        return max(values)

    def rolled(self, rolling) -> pd.Series:
        return rolling.max()


class RollingMin(_RollingWindow):
    """The lowest value of ``period`` bars (drop-in for ``bt.ind.Lowest``)."""

    lines = ("lowest",)

    def window(self, values) -> float:
        return min(values)

    def rolled(self, rolling) -> pd.Series:
        return rolling.min()
