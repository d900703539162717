"""A backtrader feed backed by numpy arrays, preloaded in bulk.

``bt.feeds.PandasData`` pays a ``df.iloc`` per field per row while preloading. This feed copies each column
into its line buffer in one call, so loading is limited by memory bandwidth, not by Python. Extra columns
(features, regimes, signals computed vectorized before the run) become extra lines:

    Feed = NumpyFeed.with_lines("regime", "signal")
    cerebro.adddata(Feed(frame=df), name="BTC/USD")

Timestamps: the frame's index holds candle START times (Kraken's convention). A candle is only known once it
has closed, so by default the feed stamps each bar at its END (``start + timeframe``): a strategy sees the
03:00-04:00 candle at 04:00, and the downtime schedule and timers compare against the time the bar closed.
"""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pandas as pd

from kraken_global.feeds.validation import infer_timeframe

# backtrader stores datetimes as days since 0001-01-01 (proleptic Gregorian) plus one.
_EPOCH_ORDINAL = 719163.0
_NS_PER_DAY = 86_400e9


def datetimes_to_num(index: pd.DatetimeIndex) -> np.ndarray:
    """Naive-UTC timestamps -> backtrader's float date numbers (same as ``bt.date2num``)."""
    ns = index.as_unit("ns").asi8.astype(np.float64)
    return ns / _NS_PER_DAY + _EPOCH_ORDINAL


class NumpyFeed(bt.feed.DataBase):
    """Candles from a DataFrame (index: naive UTC start times; columns open, high, low, close, volume).

    Params:
      - ``frame``: the DataFrame (required).
      - ``stamp_at_close``: stamp bars at their end (default True); see the module docstring.
      - ``bar_duration``: the candle length; inferred from the index when None.
    """

    params = (
        ("frame", None),
        ("stamp_at_close", True),
        ("bar_duration", None),
    )

    @classmethod
    def with_lines(cls, *names: str) -> type[NumpyFeed]:
        """A subclass with extra lines filled from the frame's columns of the same names."""
        clsname = f"{cls.__name__}_{'_'.join(names)}"
        return type(clsname, (cls,), {"lines": tuple(names)})

    def __init__(self) -> None:
        super().__init__()
        frame = self.p.frame
        if frame is None or frame.empty:
            raise ValueError("NumpyFeed needs a non-empty frame")
        index = pd.DatetimeIndex(frame.index)
        if index.tz is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        if self.p.stamp_at_close:
            if self.p.bar_duration is None and len(index) < 2:
                raise ValueError("cannot infer the bar duration from one bar: pass bar_duration")
            duration = self.p.bar_duration or infer_timeframe(index)
            index = index + pd.Timedelta(duration)
        self._columns: dict[str, np.ndarray] = {"datetime": datetimes_to_num(index)}
        for alias in self.lines.getlinealiases():
            if alias == "datetime":
                continue
            if alias in frame:
                self._columns[alias] = np.ascontiguousarray(frame[alias].to_numpy(dtype=np.float64))
            elif alias == "openinterest":
                self._columns[alias] = np.zeros(len(frame))
            else:
                raise ValueError(f"NumpyFeed line {alias!r} has no column in the frame")
        self._cursor = 0

    def start(self) -> None:
        super().start()
        self._cursor = 0

    def preload(self) -> None:
        """Fill every line's buffer in one call per line, then rewind as ``DataBase.preload`` does."""
        for alias, values in self._columns.items():
            line = getattr(self.lines, alias)
            line.array.frombytes(values.tobytes())
        self._cursor = len(self._columns["datetime"])  # nothing left for _load: the buffer holds it all
        self._last()
        self.home()

    def _load(self) -> bool:
        """Row-by-row path, used when cerebro runs with preload=False."""
        if self._cursor >= len(self._columns["datetime"]):
            return False
        i = self._cursor
        for alias, values in self._columns.items():
            getattr(self.lines, alias)[0] = values[i]
        self._cursor += 1
        return True

