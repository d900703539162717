"""Buy-and-hold of one pair (BTC/USD by default) as the benchmark every report compares against."""

from __future__ import annotations

import backtrader as bt

from kraken_global import metrics


class BuyAndHoldBenchmark(bt.Analyzer):
    """The starting cash put into ``symbol`` at the first bar's close, paying ``fee`` once, then held.
    ``start``: the first bar counted (earlier bars are warm-up)."""

    params = (("symbol", "BTC/USD"), ("fee", 0.0026), ("start", None))
    portfolio_wide = True

    def start(self) -> None:
        self.data_ = next((d for d in self.strategy.datas if d._name == self.p.symbol), None)
        self.start_value = self.strategy.broker.getvalue()
        self.units = None
        self.times: list = []
        self.values: list[float] = []

    def next(self) -> None:
        if self.data_ is None or not len(self.data_):
            return
        if self.p.start is not None and self.strategy.datetime.datetime(0) < self.p.start:
            return
        price = self.data_.close[0]
        if self.units is None:
            self.units = self.start_value * (1 - self.p.fee) / price
        self.times.append(self.strategy.datetime.datetime(0))
        self.values.append(self.units * price)

    def stop(self) -> None:
        self.rets["symbol"] = self.p.symbol
        if not self.values:
            self.rets["available"] = False
            return
        returns = metrics.daily_returns(self.times, self.values, self.start_value)
        self.rets["available"] = True
        self.rets["total_return_pct"] = metrics.total_return_pct(self.start_value, self.values[-1])
        self.rets["sharpe"] = metrics.sharpe_ratio(returns)
        self.rets["max_drawdown_pct"] = metrics.max_drawdown_pct([self.start_value, *self.values])
        self.rets["tail_loss_pct"] = metrics.expected_shortfall_pct(returns)
