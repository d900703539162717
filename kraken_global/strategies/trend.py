"""TrendFollower: ride established uptrends, leave on a trailing stop or when the trend turns.

Rules per pair (periods in bars; defaults for 1h candles):

- Enter (target: an equal share of the sleeve) when the ``fast`` EMA is above the ``slow`` EMA and the close is
  above the slow EMA.
- While in: track the highest close since entry; exit when the close falls ``stop_atr`` ATRs below it
  (trailing stop) or the fast EMA crosses below the slow EMA.
- After a trailing stop, re-enter only above the highest close before the stop (a new high), so a stop in a
  still-intact trend does not turn into a buy on the next bar.
"""

from __future__ import annotations

import backtrader as bt

from kraken_global.order_reasons import SIGNAL_EXIT, STOP
from kraken_global.strategies.sleeve import SleeveStrategy


class TrendFollower(SleeveStrategy):
    params = (("fast", 480), ("slow", 1200), ("atr_period", 336), ("stop_atr", 3.0))

    @classmethod
    def warmup_bars(cls, **params) -> int:
        return int(params.get("slow", cls.params.slow))

    def __init__(self) -> None:
        super().__init__()
        self.fast = {d: bt.ind.EMA(d.close, period=self.p.fast) for d in self.datas}
        self.slow = {d: bt.ind.EMA(d.close, period=self.p.slow) for d in self.datas}
        self.atr = {d: bt.ind.ATR(d, period=self.p.atr_period) for d in self.datas}
        self.peak: dict = {}
        self.reentry: dict = {}

    def targets(self) -> dict:
        share = self.equal_share(self.datas)
        out = {}
        for d in self.datas:
            if not self.ready(d, max(self.p.slow, self.p.atr_period + 1)):
                continue
            close, fast, slow = d.close[0], self.now(self.fast[d], d), self.now(self.slow[d], d)
            if self.units[d] > 0 or d in self.peak:
                self.peak[d] = max(self.peak.get(d, close), close)
                stopped = close < self.peak[d] - self.p.stop_atr * self.now(self.atr[d], d)
                if stopped or fast < slow:
                    peak = self.peak.pop(d)
                    self.reentry[d] = peak if stopped and fast >= slow else 0.0
                    self.note(d, STOP if stopped else SIGNAL_EXIT)
                    out[d] = 0.0
                else:
                    out[d] = share
            elif fast > slow and close > slow and close > self.reentry.get(d, 0.0):
                self.reentry.pop(d, None)
                self.peak[d] = close
                out[d] = share
            else:
                out[d] = 0.0
        return out
