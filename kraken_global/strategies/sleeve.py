"""The base of the six regime strategies: rules produce target weights, the base trades toward them.

A strategy says, each bar, what fraction of its capital it wants in each pair (:meth:`targets`); the base
turns that into market orders and keeps the books of its own sleeve:

- **Capital**: ``allocation x portfolio value``. Alone, the allocation is 1. In the regime system it is read
  from the weight line of the feed that carries the plan (``w_trendfollower``, ...): strategies share one
  broker, so a sleeve only ever sells units it bought itself (``self.units``) and buys within its budget.
- **Rebalancing**: a pair is traded when its target changes by more than ``rebalance_band`` (relative), when
  the target becomes 0 (exit), or when its value rises more than ``rebalance_band`` above target (trim). A
  price dip never triggers a top-up: buying back losers is a decision for the rule, not for the bookkeeping.
  Trades under ``min_trade_usd`` are skipped. Exposure thus stays within ``allocation x (1 + rebalance_band)``
  plus one bar of price movement.
- **Losing the slot**: when the allocation drops to 0 every target becomes 0 and the sleeve sells out in an
  orderly way (market orders, subject to the downtime schedule like every order).
- **Schedule**: new exposure only in TRADING; reductions also in TRANSITION; nothing in DOWNTIME.
- **Model filter**: when a feed carries a ``p_up`` line (the approved model's probability of a positive forward
  return) and ``min_probability`` > 0, a new position in that pair is opened only if ``p_up >= min_probability``;
  positions already held are managed by the rule alone. Each entry the model blocks is kept in
  :attr:`blocked_entries` and logged (pair, probability, threshold), once per signal.
- **Why**: every order carries its reason and the regime it was decided in (``order.info``; the words are in
  :mod:`kraken_global.order_reasons`): a lost slot, an exit the rule labelled with :meth:`note` (``stop``,
  ``target``) or a plain ``signal exit``, an ``entry signal`` from flat, a ``regime change`` of the sleeve's share,
  else a ``rebalance``.
"""

from __future__ import annotations

import logging
import math

from kraken_global.order_reasons import (
    ENTRY_SIGNAL,
    NO_REGIME,
    REBALANCE,
    REGIME_CHANGE,
    SIGNAL_EXIT,
    SLOT_LOST,
)
from kraken_global.regimes import Regime
from kraken_global.selection import weight_line
from kraken_global.strategies.base import KrakenStrategy

DUST = 1e-9
log = logging.getLogger("kraken_global.session")


class SleeveStrategy(KrakenStrategy):
    """Target-weight trading with per-sleeve accounting; subclasses implement :meth:`targets`."""

    params = (
        ("rebalance_band", 0.10),
        ("min_trade_usd", 10.0),
        ("invest_fraction", 0.98),
        ("min_probability", 0.0),
    )
    indicators_by_index = True

    def __init__(self) -> None:
        super().__init__()
        self.units: dict = {d: 0.0 for d in self.datas}
        self.last_target: dict = {d: 0.0 for d in self.datas}
        self.cash_flow = 0.0
        self.fees = 0.0
        self.plan_feed = next((d for d in self.datas if hasattr(d.lines, "regime")), None)
        self._weight = None
        if self.plan_feed is not None:  # (a feed's truth value is a line operation, not a bool)
            self._weight = getattr(self.plan_feed.lines, weight_line(type(self).__name__), None)
        self._notes: dict = {}  # data -> the reason the rule gave for its latest decision (see note())
        self._decided_allocation: dict = {d: 0.0 for d in self.datas}
        self.blocked_entries: list[dict] = []
        self._blocked: set = set()

    # -- what subclasses provide ---------------------------------------------------------------------------

    def targets(self) -> dict:
        """Fraction of this sleeve's budget wanted in each data (sum <= 1); data left out keep their units."""
        raise NotImplementedError

    def note(self, data, reason: str) -> None:
        """Label the rule's decision on ``data`` (``stop``, ``target``, a tranche's ``entry signal``): the next
        order for ``data`` carries it, whenever the schedule lets that order go."""
        self._notes[data] = reason

    # -- books ------------------------------------------------------------------------------------------

    def allocation(self) -> float:
        if self._weight is None:
            return 1.0
        if not self.bars(self.plan_feed):
            return 0.0
        return float(self._weight[0])

    def budget(self) -> float:
        return self.allocation() * self.broker.getvalue() * self.p.invest_fraction

    def ready(self, data, bars: int) -> bool:
        """True once ``data`` has at least ``bars`` bars (its indicators are defined)."""
        return self.bars(data) >= bars

    def holding_value(self, data) -> float:
        units = self.units[data]
        return units * data.close[0] if units else 0.0  # units > 0 implies bars; skips len() on every call

    def sleeve_value(self) -> float:
        return sum(units * data.close[0] for data, units in self.units.items() if units)

    def sleeve_pnl(self) -> float:
        """Realized and unrealized P&L of this sleeve since the start, net of fees."""
        return self.cash_flow + self.sleeve_value()

    def start(self) -> None:
        """A live broker keeps each sleeve's book in its database: a restarted run resumes it."""
        self._flatten_epoch = getattr(self.broker, "flatten_epoch", 0)
        books = getattr(self.broker, "strategy_books", None)
        if books is None:
            return
        for symbol, book in books(type(self).__name__).items():
            data = self.getdatabyname(symbol) if symbol in self.env.datasbyname else None
            if data is not None and abs(book["units"]) >= DUST:
                self.units[data] = round(book["units"], 12)
                self.cash_flow += book["cash_flow"]
                self.fees += book["fees"]

    def _follow_flattening(self) -> None:
        """The live kill switch sold every position: the sleeve's units are gone (sold at about this close)."""
        epoch = getattr(self.broker, "flatten_epoch", 0)
        if epoch == self._flatten_epoch:
            return
        self._flatten_epoch = epoch
        for data, units in self.units.items():
            if units and len(data):
                self.cash_flow += units * data.close[0]
                self.units[data] = 0.0

    def _follow_late_fills(self) -> None:
        """Fills of this sleeve's orders that the live broker learnt of only after settling the order without them
        (Kraken showed the order late): the sleeve's books take them, so the next decision starts from them."""
        take = getattr(self.broker, "take_late_fills", None)
        for symbol, size, price, fee in take(type(self).__name__) if take is not None else ():
            data = self.getdatabyname(symbol) if symbol in self.env.datasbyname else None
            if data is None:
                continue
            units = self.units[data] + size
            self.units[data] = 0.0 if abs(units) < DUST else round(units, 12)
            self.cash_flow -= size * price + fee
            self.fees += fee

    def notify_order(self, order) -> None:
        for bit in order.executed.iterpending() if order.status in (order.Partial, order.Completed) else ():
            units = self.units[order.data] + bit.size
            self.units[order.data] = 0.0 if abs(units) < DUST else round(units, 12)  # no float residue
            self.cash_flow -= bit.size * bit.price + bit.comm
            self.fees += bit.comm
        super().notify_order(order)

    # -- trading ---------------------------------------------------------------------------------------------

    def next(self) -> None:
        self._follow_flattening()
        self._follow_late_fills()
        allocation = self.allocation()
        if allocation <= 0 and not any(units > 0 for units in self.units.values()):
            return  # no slot and nothing to wind down: most sleeves on most bars
        wanted = self.targets() if allocation > 0 else {d: 0.0 for d in self.datas if self.units[d] > 0}
        if self.p.min_probability > 0:
            wanted = {d: self._model_filtered(d, f) for d, f in wanted.items()}
        budget = self.budget()
        for data, fraction in wanted.items():
            if self.bars(data) and not self.has_open_order(data):
                self._trade_toward(data, max(fraction, 0.0) * budget, fraction, allocation)

    def _reason(self, data, fraction: float, allocation: float) -> str:
        """Why an order for ``data`` is placed now (see the module docstring)."""
        if allocation <= 0:
            return SLOT_LOST
        noted = self._notes.get(data)
        if fraction <= 0:
            return noted or SIGNAL_EXIT
        if self.units[data] <= 0:
            return ENTRY_SIGNAL
        if noted:
            return noted
        return REGIME_CHANGE if allocation != self._decided_allocation[data] else REBALANCE

    def regime_label(self) -> str:
        """The regime in force on this bar (``none`` without the regime system's plan)."""
        if self.plan_feed is None or not self.bars(self.plan_feed):
            return NO_REGIME
        code = self.plan_feed.lines.regime[0]
        return Regime(int(code)).name if code == code else NO_REGIME

    def _order(self, side, data, size: float, fraction: float, allocation: float) -> None:
        reason = self._reason(data, fraction, allocation)
        self._notes.pop(data, None)
        self._decided_allocation[data] = allocation
        self.track(side(data=data, size=size, reason=reason, regime=self.regime_label()))

    def _trade_toward(self, data, target_value: float, fraction: float, allocation: float) -> None:
        if self.replaying:
            return  # a live feed's history: no decision is taken on it, so the first live bar acts on the target
        price = data.close[0]
        current = self.units[data] * price
        delta = target_value - current
        band = self.p.rebalance_band
        closing = target_value <= 0 and self.units[data] > 0
        retargeted = abs(target_value - self.last_target[data]) > band * max(self.last_target[data], 1e-9)
        over = current > target_value * (1 + band)
        if not (closing or over or (retargeted and abs(delta) > band * target_value)):
            return
        if abs(delta) < self.p.min_trade_usd and not closing:
            return
        self.last_target[data] = target_value  # decided: not retried bar after bar (no top-up)
        if delta > 0:
            if not self.can_open():
                return
            size = min(delta, self.broker.getcash() * 0.99) / price
            if size * price < self.p.min_trade_usd:
                return
            self._order(self.buy, data, size, fraction, allocation)
        elif self.can_reduce():
            size = self.units[data] if closing else min(-delta / price, self.units[data])
            if self._sellable(data, size) and (closing or size * price >= self.p.min_trade_usd):
                self._order(self.sell, data, size, fraction, allocation)

    def _model_allows(self, data) -> bool:
        line = getattr(data.lines, "p_up", None)
        if line is None:
            return True
        p = line[0]
        return p == p and p >= self.p.min_probability  # NaN (features not ready) vetoes

    def _model_filtered(self, data, fraction: float) -> float:
        """``fraction``, or 0 when it would open a position the model vetoes; a veto is recorded once per signal,
        and only when the entry could otherwise be placed now."""
        if fraction <= 0 or self.units[data] > 0 or self._model_allows(data):
            self._blocked.discard(data)
            return fraction
        if data not in self._blocked and self.can_open() and not self.has_open_order(data):
            self._blocked.add(data)
            p = data.lines.p_up[0]
            entry = {"bar": str(self.datetime.datetime(0)), "strategy": type(self).__name__, "pair": data._name,
                     "probability": None if math.isnan(p) else float(p), "threshold": self.p.min_probability,
                     "regime": self.regime_label()}
            self.blocked_entries.append(entry)
            log.info("entry blocked by the model: %s %s, P(up) %s below %.2f (regime %s)", entry["strategy"],
                     entry["pair"], "unknown (features not ready)" if entry["probability"] is None
                     else f"{entry['probability']:.3f}", entry["threshold"], entry["regime"])
        return 0.0

    def _sellable(self, data, size: float) -> bool:
        """False for dust the exchange would refuse (under one lot or ``ordermin``); it stays in the sleeve."""
        rules_for = getattr(self.broker, "rules_for", None)
        if rules_for is None:
            return size > 0
        rules = rules_for(data)
        return rules.round_size(size) >= max(rules.ordermin, 10.0 ** -rules.lot_decimals)

    @staticmethod
    def equal_share(datas: list) -> float:
        return 1.0 / len(datas) if datas else 0.0
