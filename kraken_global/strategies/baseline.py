"""The baseline strategy: a long-only moving-average trend rule per pair with equal capital.

Rules (per pair, evaluated on each closed bar):

- Enter when the ``fast`` SMA of the close is above the ``slow`` SMA and the pair has no position: buy
  ``invest_fraction / number_of_pairs`` of the portfolio value at market.
- Exit the whole position when the fast SMA falls below the slow SMA.
- No new entries outside TRADING; exits pass in TRANSITION and wait out DOWNTIME.

It is deliberately plain: it is the benchmark line the regime system must beat in every report.
"""

from __future__ import annotations

from kraken_global.indicators import RollingMean
from kraken_global.strategies.base import KrakenStrategy


class SmaTrendBaseline(KrakenStrategy):
    """Long-only SMA trend per pair; see the module docstring. Periods are in bars."""

    params = (("fast", 240), ("slow", 1200), ("invest_fraction", 0.95))

    @classmethod
    def warmup_bars(cls, **params) -> int:
        """Bars needed before the first signal: the slow average's period."""
        return int(params.get("slow", cls.params.slow))

    def __init__(self) -> None:
        super().__init__()
        if not 0 < self.p.fast < self.p.slow:
            raise ValueError("SmaTrendBaseline needs 0 < fast < slow")
        self.fast = {d: RollingMean(d.close, period=self.p.fast) for d in self.datas}
        self.slow = {d: RollingMean(d.close, period=self.p.slow) for d in self.datas}

    def next(self) -> None:
        weight = self.p.invest_fraction / len(self.datas)
        for data in self.ready_datas(self.p.slow):
            if self.has_open_order(data):
                continue
            held = self.broker.getposition(data).size
            uptrend = self.fast[data][0] > self.slow[data][0]
            if uptrend and held <= 0 and self.can_open():
                value = min(self.broker.getvalue() * weight, self.broker.getcash() * 0.99)
                self.track(self.buy(data=data, size=value / data.close[0]))
            elif not uptrend and held > 0 and self.can_reduce():
                self.track(self.sell(data=data, size=held))
