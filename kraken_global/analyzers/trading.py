"""Analyzers of trading activity: turnover, fees, exposure (round trips come from :mod:`kraken_global.ledger`).

They read executions from ``notify_order`` through ``order.executed.iterpending()`` (the bits executed since
the last notification), which works for any broker that notifies order clones, paper or live.
"""

from __future__ import annotations

import backtrader as bt
import pandas as pd

from kraken_global import metrics


def _executions(order):
    if order.status not in (bt.Order.Partial, bt.Order.Completed):
        return []
    return list(order.executed.iterpending())


class Turnover(bt.Analyzer):
    """Mean daily traded notional / end-of-day portfolio value (see :func:`metrics.turnover`).

    ``start``: ignore bars and trades before it (see ``ValueRecorder``)."""

    params = (("start", None),)

    def start(self) -> None:
        self.trades: list[tuple[float, float]] = []
        self.times: list[float] = []
        self.values: list[float] = []

    def notify_order(self, order) -> None:
        for bit in _executions(order):
            if self.p.start is None or bt.num2date(bit.dt) >= self.p.start:
                self.trades.append((bit.dt, abs(bit.size * bit.price)))

    def next(self) -> None:
        if self.p.start is not None and self.strategy.datetime.datetime(0) < self.p.start:
            return
        self.times.append(self.strategy.datetime[0])
        self.values.append(self.strategy.broker.getvalue())

    def stop(self) -> None:
        """Bucket by UTC day once, at the end (per-bar pandas calls would dominate the run)."""
        values = metrics.daily_values([bt.num2date(t) for t in self.times], self.values) if self.values \
            else pd.Series(dtype=float)
        traded = pd.Series(dtype=float)
        if self.trades:
            stamps, notional = zip(*self.trades, strict=True)
            traded = pd.Series(notional, index=metrics.utc_day([bt.num2date(t) for t in stamps]))
            traded = traded.groupby(level=0).sum()
        self.rets["turnover"] = metrics.turnover(traded, values)
        self.rets["traded_notional"] = float(traded.sum())


class FeesPaid(bt.Analyzer):
    """Total fees, and (with the Kraken paper broker) slippage and maker/taker counts."""

    def start(self) -> None:
        self.fees = 0.0

    def notify_order(self, order) -> None:
        for bit in _executions(order):
            self.fees += bit.comm

    def stop(self) -> None:
        self.rets["fees_paid"] = self.fees
        broker = self.strategy.broker
        fills = getattr(broker, "fills", None)
        if fills is not None:
            self.rets["slippage_paid"] = sum(f.slippage_cost for f in fills)
            self.rets["maker_fills"] = sum(1 for f in fills if f.liquidity == "maker")
            self.rets["taker_fills"] = sum(1 for f in fills if f.liquidity == "taker")
            self.rets["rejected_orders"] = len(getattr(broker, "rejections", []))


class Exposure(bt.Analyzer):
    """Mean gross exposure (positions value / portfolio value), share of bars with any position, and the
    largest share of the portfolio one pair reached (the per-pair exposure limit at work)."""

    params = (("start", None),)  # bars before it are warm-up and not counted
    portfolio_wide = True

    def start(self) -> None:
        self.exposures: list[float] = []
        self.invested_bars = 0
        self.max_pair_share = 0.0
        self.max_pair: str | None = None

    def next(self) -> None:
        if self.p.start is not None and self.strategy.datetime.datetime(0) < self.p.start:
            return
        broker = self.strategy.broker
        value = broker.getvalue()
        gross = 0.0
        for data in self.strategy.datas:
            size = broker.getposition(data).size
            if size and len(data):
                held = abs(size * data.close[0])
                gross += held
                if value > 0 and held / value > self.max_pair_share:
                    self.max_pair_share, self.max_pair = held / value, data._name
        self.exposures.append(gross / value if value > 0 else 0.0)
        self.invested_bars += gross > 0

    def stop(self) -> None:
        n = len(self.exposures)
        self.rets["mean_exposure_pct"] = 100.0 * sum(self.exposures) / n if n else 0.0
        self.rets["max_exposure_pct"] = 100.0 * max(self.exposures) if n else 0.0
        self.rets["time_in_market_pct"] = 100.0 * self.invested_bars / n if n else 0.0
        self.rets["max_pair_share_pct"] = 100.0 * self.max_pair_share
        self.rets["max_pair"] = self.max_pair
