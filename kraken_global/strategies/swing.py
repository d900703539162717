"""VolatilitySwing: trade breakouts out of a range, sized to a target volatility.

Rules per pair (periods in bars; defaults for 1h candles):

- Enter when the close breaks above the highest high of the previous ``channel`` bars (Donchian breakout).
- Size: an equal share of the sleeve scaled by ``target_vol / realized_vol`` (at most 1x), where realized
  volatility is the annualized standard deviation of bar returns over ``vol_period`` bars; a wilder market
  gets a smaller position.
- Exit when the close breaks below the lowest low of the previous ``exit_channel`` bars.
"""

from __future__ import annotations

import math

import backtrader as bt

from kraken_global.indicators import RollingMax, RollingMin, RollingStd
from kraken_global.strategies.sleeve import SleeveStrategy


class VolatilitySwing(SleeveStrategy):
    params = (("channel", 96), ("exit_channel", 48), ("vol_period", 168), ("target_vol", 0.6),
              ("bars_per_year", 8760))

    @classmethod
    def warmup_bars(cls, **params) -> int:
        return int(max(params.get("channel", cls.params.channel), params.get("vol_period", cls.params.vol_period))) + 1

    def __init__(self) -> None:
        super().__init__()
        self.upper = {d: RollingMax(d.high(-1), period=self.p.channel) for d in self.datas}
        self.lower = {d: RollingMin(d.low(-1), period=self.p.exit_channel) for d in self.datas}
        self.vol = {d: RollingStd(bt.ind.PercentChange(d.close, period=1), period=self.p.vol_period)
                    for d in self.datas}
        self.inside: set = set()

    def size_fraction(self, data) -> float:
        realized = self.now(self.vol[data], data) * math.sqrt(self.p.bars_per_year)
        scale = 1.0 if realized <= 0 else min(1.0, self.p.target_vol / realized)
        return self.equal_share(self.datas) * scale

    def targets(self) -> dict:
        out = {}
        for d in self.datas:
            if not self.ready(d, self.warmup_bars(channel=self.p.channel, vol_period=self.p.vol_period) + 1):
                continue
            if d in self.inside:
                if d.close[0] < self.now(self.lower[d], d):
                    self.inside.discard(d)
                    out[d] = 0.0
                else:
                    out[d] = self.size_fraction(d)
            elif d.close[0] > self.now(self.upper[d], d):
                self.inside.add(d)
                out[d] = self.size_fraction(d)
            else:
                out[d] = 0.0
        return out
