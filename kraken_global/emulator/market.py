"""Replayed real candles: what the emulated market looks like at the clock's time.

Candles are the bundled hourly Kraken data (or any frames given). At time t the *current* candle is the one that
contains t (still forming); the *last price* is the close of the candle before it. Kraken stamps candles at
their start and ``OHLC`` answers at most the latest 720, the last one still forming.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from kraken_global.universe import PairRules

OHLC_LIMIT = 720


class Market:
    def __init__(self, candles: dict[str, pd.DataFrame], rules: dict[str, PairRules]) -> None:
        self.candles = candles  # by pair id
        self.rules = rules  # by pair id
        self._starts = {pid: frame.index.as_unit("ns").asi8 for pid, frame in candles.items()}

    def position(self, pair_id: str, now: datetime) -> int:
        """Index of the candle containing ``now`` (-1 before the data)."""
        return int(np.searchsorted(self._starts[pair_id], pd.Timestamp(now).value, side="right")) - 1

    @property
    def end(self) -> pd.Timestamp:
        """When the last replayed candle closes: past it the market has nothing left to replay."""
        return max(frame.index[-1] + self.bar(pid) for pid, frame in self.candles.items() if len(frame))

    def bar(self, pair_id: str) -> pd.Timedelta:
        """The candle length of ``pair_id`` (from its first two candles)."""
        index = self.candles[pair_id].index
        return index[1] - index[0] if len(index) > 1 else pd.Timedelta(hours=1)

    def last_price(self, pair_id: str, now: datetime) -> float:
        i = self.position(pair_id, now)
        frame = self.candles[pair_id]
        if i <= 0:
            return float(frame["open"].iloc[0])
        return float(frame["close"].iloc[min(i, len(frame)) - 1])

    def closed_between(self, pair_id: str, since: datetime, now: datetime) -> pd.DataFrame:
        """Candles that closed in (since, now]."""
        frame = self.candles[pair_id]
        return frame.iloc[max(self.position(pair_id, since), 0): max(self.position(pair_id, now), 0)]

    def ohlc(self, pair_id: str, now: datetime, interval_minutes: int) -> pd.DataFrame:
        frame = self.candles[pair_id]
        upto = frame.iloc[: self.position(pair_id, now) + 1]
        if interval_minutes != 60:
            rule = pd.Timedelta(minutes=interval_minutes)
            upto = upto.resample(rule, label="left", closed="left").agg(
                {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}).dropna()
        return upto.iloc[-OHLC_LIMIT:]
