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
from kraken_global.order_reasons import ENTRY_SIGNAL, NO_REGIME, SIGNAL_EXIT
from kraken_global.strategies.base import KrakenStrategy


class SmaTrendBaseline(KrakenStrategy):
    """Long-only SMA trend per pair; see the module docstring. Periods are in bars."""

    params = (("fast", 240), ("slow", 1200), ("invest_fraction", 0.95), ("min_trade_usd", 10.0))
    indicators_by_index = True

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

    def _lots(self, data, size: float) -> float:
        """``size`` in whole lots: float dust below one lot is no position (selling it would be refused)."""
        rules_for = getattr(self.broker, "rules_for", None)
        return rules_for(data).round_size(size) if rules_for is not None and size > 0 else size

    def next(self) -> None:
        weight = self.p.invest_fraction / len(self.datas)
        for data in self.ready_datas(self.p.slow):
            if self.has_open_order(data):
                continue
            held = self._lots(data, self.broker.getposition(data).size)
            uptrend = self.now(self.fast[data], data) > self.now(self.slow[data], data)
            if uptrend and held <= 0 and self.can_open():
                value = min(self.broker.getvalue() * weight, self.broker.getcash() * 0.99)
                if value >= self.p.min_trade_usd:  # no order the exchange would refuse, bar after bar
                    self.track(self.buy(data=data, size=value / data.close[0], reason=ENTRY_SIGNAL,
                                        regime=NO_REGIME))
            elif not uptrend and held > 0 and self.can_reduce():
                self.track(self.sell(data=data, size=held, reason=SIGNAL_EXIT, regime=NO_REGIME))
