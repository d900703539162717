"""StableAllocator: a steady, diversified book: inverse-volatility weights with a cap on total exposure.

Rules (periods in bars; defaults for 1h candles):

- Each pair's weight is proportional to 1 / (standard deviation of its bar returns over ``vol_period``), so calm
  pairs get more; weights sum to ``max_exposure`` of the sleeve; the rest stays in USD.
- Rebalanced only when a pair drifts from its target by more than the rebalance band, which keeps turnover low.
"""

from __future__ import annotations

import backtrader as bt

from kraken_global.strategies.sleeve import SleeveStrategy, ready


class StableAllocator(SleeveStrategy):
    params = (("max_exposure", 0.5), ("vol_period", 720))

    @classmethod
    def warmup_bars(cls, **params) -> int:
        return int(params.get("vol_period", cls.params.vol_period)) + 1

    def __init__(self) -> None:
        super().__init__()
        self.vol = {d: bt.ind.StdDev(bt.ind.PercentChange(d.close, period=1), period=self.p.vol_period)
                    for d in self.datas}

    def targets(self) -> dict:
        inverse = {d: 1.0 / self.vol[d][0] for d in self.datas
                   if ready(d, self.p.vol_period + 2) and self.vol[d][0] > 0}
        total = sum(inverse.values())
        return {d: self.p.max_exposure * w / total for d, w in inverse.items()} if total else {}
