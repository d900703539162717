"""Every order a strategy decided on, with the bar it was decided on: what the parity report compares.

``fills.csv`` says what was executed, not what was decided: an order refused by the broker or left open at the end
has no fill, and a fill's time is the bar it executed on, not the bar the strategy acted on. :class:`OrderLog`
keeps one row per order (the broker's run-local ``order_id``, the bar's close time, pair, side, size, order type,
the strategy, the regime and reason it gave, the last status), so a session and its backtest replay can be compared
decision by decision.
"""

from __future__ import annotations

import backtrader as bt
import pandas as pd

from kraken_global.order_reasons import order_labels

ORDER_COLUMNS = ["bar", "symbol", "side", "size", "exectype", "strategy", "regime", "reason", "order_id", "status"]


class OrderLog(bt.Analyzer):
    """One row per order of its strategy, keyed by the broker's ``order_id`` (``order.ref`` without one)."""

    def start(self) -> None:
        self.rows: dict[int, dict] = {}

    def notify_order(self, order) -> None:
        number = getattr(self.strategy.broker, "order_id", lambda o: o.ref)(order)
        row = self.rows.get(number)
        if row is None:
            _, regime, reason = order_labels(order)  # who and why, as on the order's fills
            row = self.rows[number] = {
                "bar": bt.num2date(order.created.dt), "symbol": order.data._name,
                "side": "buy" if order.isbuy() else "sell", "size": abs(order.created.size),
                "exectype": bt.Order.ExecTypes[order.exectype or bt.Order.Market],
                "strategy": type(self.strategy).__name__, "regime": regime, "reason": reason, "order_id": number}
        row["status"] = order.getstatusname()

    def get_analysis(self) -> list[dict]:
        return list(self.rows.values())


def orders_frame(strategies: list) -> pd.DataFrame:
    """The orders of every strategy that has an :class:`OrderLog` named ``orders``, by order number."""
    rows = [row for s in strategies if hasattr(s.analyzers, "orders") for row in s.analyzers.orders.get_analysis()]
    return pd.DataFrame(rows, columns=ORDER_COLUMNS).sort_values("order_id", kind="stable").reset_index(drop=True)
