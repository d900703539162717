"""StableAllocator: a steady, diversified book: inverse-volatility weights with a cap on total exposure.

Rules (periods in bars; defaults for 1h candles):

- Only pairs above their SMA over ``vol_period`` are held (a trend filter: no allocation to a pair in a
  decline), with a ``trend_buffer`` of hysteresis: a pair joins above SMA x (1 + buffer) and leaves below
  SMA x (1 - buffer), so a close hovering around the average does not trade every bar.
- Each held pair's weight is proportional to 1 / (standard deviation of its bar returns over ``vol_period``),
  so calm pairs get more; the weights of all eligible pairs sum to ``max_exposure`` of the sleeve, and the share
  of a filtered-out pair stays in USD.
- Rebalanced only when a pair drifts from its target by more than the rebalance band, which keeps turnover low.
"""

from __future__ import annotations

import backtrader as bt

from kraken_global.indicators import RollingMean, RollingStd
from kraken_global.strategies.sleeve import SleeveStrategy


class StableAllocator(SleeveStrategy):
    params = (("max_exposure", 0.5), ("vol_period", 720), ("trend_buffer", 0.02))

    @classmethod
    def warmup_bars(cls, **params) -> int:
        return int(params.get("vol_period", cls.params.vol_period)) + 1

    def __init__(self) -> None:
        super().__init__()
        self.vol = {d: RollingStd(bt.ind.PercentChange(d.close, period=1), period=self.p.vol_period)
                    for d in self.datas}
        self.trend = {d: RollingMean(d.close, period=self.p.vol_period) for d in self.datas}
        self.held: set = set()

    def targets(self) -> dict:
        inverse = {d: 1.0 / self.now(self.vol[d], d) for d in self.datas
                   if self.ready(d, self.p.vol_period + 2) and self.now(self.vol[d], d) > 0}
        total = sum(inverse.values())
        if not total:
            return {}
        for d in inverse:
            average = self.now(self.trend[d], d)
            if d.close[0] > average * (1 + self.p.trend_buffer):
                self.held.add(d)
            elif d.close[0] < average * (1 - self.p.trend_buffer):
                self.held.discard(d)
        return {d: self.p.max_exposure * w / total if d in self.held else 0.0 for d, w in inverse.items()}
