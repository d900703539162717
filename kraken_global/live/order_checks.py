"""The rules the live broker applies before it sends an order (what it refuses, with the reason):

the downtime schedule (no orders 03:00-05:00 UTC, only reductions in the transition before), a dead man's switch
that can be refreshed and a clock within the skew bound, the pair's market status (Kraken's AssetPairs), no order
whose outcome is still unknown on the pair, Kraken's lot precision, ``ordermin`` and ``costmin``, the bot's own
holdings (spot: no shorting, and never the coins that were on the account before), the bot's cash with the
account's taker fee (and its capital budget), the per-pair exposure limit and the risk limits. A mixin of
:class:`~kraken_global.live.broker.KrakenLiveBroker`.
"""

from __future__ import annotations

import backtrader as bt

from kraken_global.exposure import allowed_buy_size, is_limited
from kraken_global.live.exchange_rules import status_refusal
from kraken_global.schedule import TradingState as Session

_EPS = 1e-12


class OrderChecks:
    """Needs the broker's ``p`` (schedule, fees, capital budget, max pair share), ``dms``, ``clock_problem``,
    ``tracked``, ``orphans``, ``risk`` and its account view (``_units``, ``getcash``, ``getvalue``)."""

    def _pair_room(self, data, size: float, price: float) -> float:
        if self.p.max_pair_share is None or not is_limited(self.rules_for(data).base_currency):
            return size
        self._know(data)
        pending = sum(abs(t.order.executed.remsize) for t in self.tracked.values()
                      if t.order.data is data and t.order.isbuy() and t.order.alive())
        return allowed_buy_size(size, price, self._units(data), pending, self.getvalue(), self.p.max_pair_share)

    def _unknown_pairs(self) -> set[str]:
        return ({t.order.data._name for t in self.tracked.values() if t.txid is None}
                | {row["symbol"] for row in self.orphans.values() if not row.get("txid")})

    def _guard_problem(self) -> str | None:
        """Why no order may be opened now, whatever the pair (a stopped dead man's switch, a skewed clock)."""
        if self.dms is not None and not self.dms.healthy:
            return "the dead man's switch could not be refreshed: no new order until it is"
        return self.clock_problem

    def _check(self, order) -> str | None:
        data = order.data
        self._know(data)
        if not len(data):
            return "no market data yet for this pair"
        if order.exectype not in (None, bt.Order.Market, bt.Order.Limit):
            return "live trading supports market and limit orders only"
        rules = self.rules_for(data)
        size, side = abs(order.size), "buy" if order.isbuy() else "sell"
        kind = "limit" if order.exectype == bt.Order.Limit else "market"
        position = self._units(data)
        session = self.p.schedule.state_at(data.datetime.datetime(0))
        reduces = side == "sell" and size <= position + _EPS
        if session is Session.DOWNTIME:
            return "downtime"
        if session is Session.TRANSITION and not reduces:
            return "transition: only orders that reduce exposure are accepted before downtime"
        problem = self._guard_problem() or status_refusal(rules, kind, bool(order.info.get("postonly")), reduces)
        if problem is not None:
            return problem
        if data._name in self._unknown_pairs():
            return (f"an earlier order on {data._name} has an unknown outcome: no new order for the pair until "
                    "Kraken's records settle it")
        if size <= 0:
            return f"size rounds to 0 at {rules.lot_decimals} lot decimals"
        if size < rules.ordermin:
            return f"ordermin: {size:g} {rules.base_currency} is below the minimum {rules.ordermin:g}"
        price = order.created.price or data.close[0]
        if size * price < rules.costmin:
            return f"costmin: {size * price:.4f} USD is below the minimum cost {rules.costmin:g}"
        if side == "sell" and size > self._units(data, "free") + 0.5 * 10.0 ** -rules.lot_decimals:
            return f"insufficient holdings: sell {size:g} {rules.base_currency} (the bot's own; spot: no shorting)"
        if side == "buy" and size * price * (1 + self.p.fees[1]) > self.getcash() + 1e-9:
            return (f"insufficient cash: {size * price:.2f} USD and the taker fee exceed the bot's "
                    f"{self.getcash():.2f} USD" + (" (live.capital.budget_usd)" if self.p.capital_budget else ""))
        if side == "buy" and self._pair_room(data, size, price) < size - 0.5 * 10.0 ** -rules.lot_decimals:
            return f"pair exposure limit: {data._name} would exceed max_pair_share {self.p.max_pair_share:g}"
        return self.risk.check_order(side, size, price, position)
