"""MeanReversion: buy a stretched dip, sell the snap-back to the mean.

Rules per pair (periods in bars; defaults for 1h candles):

- z-score: (close - SMA) / standard deviation of the close, both over ``period`` bars.
- Enter (an equal share of the sleeve) when z <= -``entry_z`` and the close is above its SMA over
  ``trend_period`` (buy dips in a market that is not in a decline; 0 disables the filter).
- Exit when z >= ``exit_z`` (back at the mean), or z <= -``stop_z`` (the dip became a crash), or after
  ``max_hold`` bars.
"""

from __future__ import annotations

from kraken_global.indicators import RollingMean, RollingStd
from kraken_global.order_reasons import SIGNAL_EXIT, STOP, TARGET
from kraken_global.strategies.sleeve import SleeveStrategy


class MeanReversion(SleeveStrategy):
    params = (("period", 48), ("entry_z", 2.0), ("exit_z", 0.0), ("stop_z", 4.0), ("max_hold", 96),
              ("trend_period", 480))

    @classmethod
    def warmup_bars(cls, **params) -> int:
        return int(max(params.get("period", cls.params.period), params.get("trend_period", cls.params.trend_period)))

    def __init__(self) -> None:
        super().__init__()
        self.mean = {d: RollingMean(d.close, period=self.p.period) for d in self.datas}
        self.std = {d: RollingStd(d.close, period=self.p.period) for d in self.datas}
        self.trend = {d: RollingMean(d.close, period=self.p.trend_period) for d in self.datas} \
            if self.p.trend_period else {}
        self.entered_at: dict = {}

    def zscore(self, data) -> float:
        std = self.now(self.std[data], data)
        return 0.0 if std <= 0 else (data.close[0] - self.now(self.mean[data], data)) / std

    def _uptrend(self, data) -> bool:
        if not self.trend:
            return True
        return self.ready(data, self.p.trend_period) and data.close[0] > self.now(self.trend[data], data)

    def targets(self) -> dict:
        share = self.equal_share(self.datas)
        out = {}
        for d in self.datas:
            if not self.ready(d, self.p.period):
                continue
            z = self.zscore(d)
            if d in self.entered_at:
                held = self.bars(d) - self.entered_at[d]
                if z >= self.p.exit_z or z <= -self.p.stop_z or held >= self.p.max_hold:
                    del self.entered_at[d]
                    self.note(d, TARGET if z >= self.p.exit_z else STOP if z <= -self.p.stop_z else SIGNAL_EXIT)
                    out[d] = 0.0
                else:
                    out[d] = share
            elif z <= -self.p.entry_z and self._uptrend(d):
                self.entered_at[d] = self.bars(d)
                out[d] = share
            else:
                out[d] = 0.0
        return out
