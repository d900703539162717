"""Recovery: scale back in after a crash, in tranches, and get out if the low breaks.

Rules per pair (periods in bars; defaults for 1h candles):

- The floor is the lowest close of the last ``lookback`` bars when the first tranche is bought.
- First tranche when the close is above its SMA over ``sma_period`` and at least ``step`` above the floor
  (the market has bounced and turned up).
- Each further tranche (up to ``tranches``) when the close is above the SMA and at least ``step`` above the
  price of the previous tranche: the sleeve adds only while the recovery is confirmed by higher prices.
- Exit everything when the close falls below the floor (a second leg down) or ``stop`` below the price of the
  last tranche (the recovery failed); start over from a new floor.
Each tranche is ``1 / tranches`` of the pair's equal share of the sleeve.
"""

from __future__ import annotations

from kraken_global.indicators import RollingMean, RollingMin
from kraken_global.order_reasons import ENTRY_SIGNAL, STOP
from kraken_global.strategies.sleeve import SleeveStrategy


class Recovery(SleeveStrategy):
    params = (("tranches", 3), ("sma_period", 72), ("step", 0.05), ("stop", 0.10), ("lookback", 720))

    @classmethod
    def warmup_bars(cls, **params) -> int:
        return int(max(params.get("sma_period", cls.params.sma_period), params.get("lookback", cls.params.lookback)))

    def __init__(self) -> None:
        super().__init__()
        self.sma = {d: RollingMean(d.close, period=self.p.sma_period) for d in self.datas}
        self.low = {d: RollingMin(d.close, period=self.p.lookback) for d in self.datas}
        self.state: dict = {}  # data -> [tranches held, last tranche price, floor]

    def targets(self) -> dict:
        share = self.equal_share(self.datas)
        out = {}
        for d in self.datas:
            if not self.ready(d, max(self.p.sma_period, self.p.lookback)):
                continue
            close = d.close[0]
            held, last, floor = self.state.get(d, (0, None, None))
            if held and (close < floor or close < last * (1 - self.p.stop)):
                self.state.pop(d)
                self.note(d, STOP)
                out[d] = 0.0
                continue
            rising = close > self.now(self.sma[d], d)
            if held == 0 and rising and close >= self.now(self.low[d], d) * (1 + self.p.step):
                self.state[d] = (1, close, self.now(self.low[d], d))
            elif 0 < held < self.p.tranches and rising and close >= last * (1 + self.p.step):
                self.state[d] = (held + 1, close, floor)
                self.note(d, ENTRY_SIGNAL)  # a further tranche
            out[d] = share * self.state.get(d, (0, None, None))[0] / self.p.tranches
        return out
