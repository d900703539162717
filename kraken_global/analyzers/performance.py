"""Analyzers of the portfolio value: Sharpe, max drawdown, tail loss, returns.

Each records the broker value at every bar and computes its figure with :mod:`kraken_global.metrics` at the
end, so a figure means the same in a report, a test and a model gate.
"""

from __future__ import annotations

import backtrader as bt

from kraken_global import metrics


class ValueRecorder(bt.Analyzer):
    """Base: keeps (bar time, portfolio value) for every bar of the strategy's clock.

    ``start`` (a datetime) makes the analyzer ignore earlier bars: out-of-sample runs load history before the
    evaluation window for warm-up, and only the window counts. The starting value is then the value at the
    last bar before ``start``.
    """

    params = (("start", None),)
    portfolio_wide = True  # the broker's value: recorded by one strategy of the portfolio (see OnePortfolio)

    def start(self) -> None:
        self.times: list = []
        self.values: list[float] = []
        self.start_value = self.strategy.broker.getvalue()

    def next(self) -> None:
        now = self.strategy.datetime.datetime(0)
        value = self.strategy.broker.getvalue()
        if self.p.start is not None and now < self.p.start:
            self.start_value = value
            return
        self.times.append(now)
        self.values.append(value)

    def daily_returns(self):
        return metrics.daily_returns(self.times, self.values, self.start_value)


class SharpeRatio365(ValueRecorder):
    """Annualized Sharpe of daily returns, 365 periods a year, risk-free 0."""

    def stop(self) -> None:
        self.rets["sharpe"] = metrics.sharpe_ratio(self.daily_returns()) if self.values else 0.0


class MaxDrawdown(ValueRecorder):
    """Largest peak-to-trough fall of the bar-by-bar value, in percent."""

    def stop(self) -> None:
        self.rets["max_drawdown_pct"] = metrics.max_drawdown_pct([self.start_value, *self.values])


class TailLoss(ValueRecorder):
    """Expected shortfall of daily returns at ``level`` (95%), as a positive percent."""

    params = (("level", 0.95),)  # plus ValueRecorder's ``start``

    def stop(self) -> None:
        returns = self.daily_returns() if self.values else []
        self.rets["tail_loss_pct"] = metrics.expected_shortfall_pct(returns, self.p.level)


class Returns365(ValueRecorder):
    """Total and annualized return, and the daily value series for reports.

    It also keeps what the round-trip ledger needs to start from: :attr:`opening`, the positions held at the last
    bar before ``start`` (a live account can hold some) and that bar's closes."""

    def start(self) -> None:
        super().start()
        self.opening: dict[str, tuple[float, float]] = {}

    def next(self) -> None:
        super().next()
        if self.p.start is not None and not self.values:  # still before the evaluation: the positions at its start
            broker = self.strategy.broker
            self.opening = {d._name: (size, d.close[0]) for d in self.strategy.datas
                            if len(d) and (size := broker.getposition(d).size)}

    def stop(self) -> None:
        end = self.values[-1] if self.values else self.start_value
        returns = self.daily_returns() if self.values else []
        self.rets["start_value"] = self.start_value
        self.rets["end_value"] = end
        self.rets["total_return_pct"] = metrics.total_return_pct(self.start_value, end)
        self.rets["annualized_return_pct"] = metrics.annualized_return_pct(returns)
        self.rets["days"] = len(returns)
