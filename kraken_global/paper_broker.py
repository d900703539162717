"""The Kraken paper broker: backtrader's simulated broker with Kraken's spot rules.

What it adds to ``bt.brokers.BackBroker`` (and why it cannot be done with a CommInfo alone):

- **Spot only**: no leverage, no shorting. A sell beyond the holding, or a buy beyond the free cash, is
  Rejected with the reason in ``order.info["reject_reason"]`` and in :attr:`KrakenPaperBroker.rejections`.
- **Maker or taker fee by how the order filled**: market and stop orders, and limit orders that cross the
  book on arrival (the first bar after submission opens through the limit), pay the taker rate; a limit
  order that rested and was reached later fills at its limit price and pays the maker rate. backtrader's
  CommInfo never sees the order, so the broker picks the rate for each fill. Rates come from a
  :class:`~kraken_global.fees.FeeSchedule` by the trailing 30-day volume traded.
- **Slippage** in basis points against the trader on market and stop fills, plus an optional seeded random
  component (uniform in ``[0, random_slippage_bps]``), so runs are reproducible for a given seed.
- **Precision**: sizes truncated to the pair's lot decimals, limit prices rounded to its tick in the trader's
  favour, slipped prices rounded to the tick against the trader. Orders under ``ordermin`` or ``costmin``
  are Rejected.
- **Volume cap**: each fill takes at most ``volume_share`` of the bar's volume; the rest stays open as a
  partial fill (float-safe, unlike backtrader's ``FixedBarPerc``).
- **Downtime**: new orders are Rejected with reason ``downtime`` inside the window, and only
  exposure-reducing orders pass during the transition before it.
- **Per-pair exposure limit**: a buy is cut so the pair stays within ``max_pair_share`` of the portfolio's value
  (:mod:`kraken_global.exposure`, shared with the live broker); a buy with no room left is Rejected.
- **Costs reported**: every fill in :attr:`fills` with fee, liquidity and slippage cost.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

import backtrader as bt
from backtrader.brokers import BackBroker

from kraken_global.errors import ConfigError
from kraken_global.exposure import allowed_buy_size, is_limited
from kraken_global.fees import KRAKEN_LEGACY
from kraken_global.order_reasons import NO_REGIME, UNSPECIFIED, describe, order_labels
from kraken_global.schedule import DowntimeSchedule, TradingState
from kraken_global.universe import PairRules, Universe, catalog

log = logging.getLogger(__name__)
_MARKETABLE = (bt.Order.Market, bt.Order.Stop, bt.Order.StopTrail)
_VOLUME_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Fill:
    """One execution of an order (an order can fill in several parts)."""

    dt: datetime
    symbol: str
    side: str
    size: float
    price: float
    notional: float
    fee: float
    fee_rate: float
    liquidity: str
    reference_price: float
    slippage_cost: float
    order_id: int
    strategy: str = UNSPECIFIED  # who placed the order (its owner's class, or ``portfolio``)
    regime: str = NO_REGIME  # the regime in force when the order was decided
    reason: str = UNSPECIFIED  # why (see :mod:`kraken_global.order_reasons`)


@dataclass(frozen=True)
class Rejection:
    """An order the broker refused, and why."""

    dt: datetime | None
    symbol: str
    side: str
    size: float
    reason: str
    order_id: int


class KrakenCommInfo(bt.CommInfoBase):
    """Percentage fee on notional, spot (stock-like), fractional sizes.

    ``getsize`` is overridden because backtrader's returns ``int(...)``, which buys nothing of BTC.
    """

    params = (
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_PERC),
        ("percabs", True),
        ("commission", 0.0026),
        ("leverage", 1.0),
    )

    def getsize(self, price: float, cash: float) -> float:
        return cash / price if price > 0 else 0.0


class KrakenPaperBroker(BackBroker):
    """A backtrader broker that simulates Kraken spot; see the module docstring for the rules."""

    params = (
        ("universe", None),
        ("fees", KRAKEN_LEGACY),
        ("slippage_bps", 5.0),
        ("random_slippage_bps", 0.0),
        ("volume_share", 0.1),
        ("schedule", DowntimeSchedule()),
        ("seed", 0),
        ("max_pair_share", None),  # the config passes broker.max_pair_share
        ("checksubmit", False),
    )

    def __init__(self) -> None:
        super().__init__()
        if self.p.volume_share is not None and not 0 < self.p.volume_share <= 1:
            raise ConfigError("volume_share must be in (0, 1], or None for no cap")
        if self.p.slippage_bps < 0 or self.p.random_slippage_bps < 0:
            raise ConfigError("slippage must not be negative")
        self._universe: Universe = self.p.universe or catalog()
        self._comminfo = KrakenCommInfo()
        self.p.filler = self._fill_size
        self._reset_ledgers()

    def _reset_ledgers(self) -> None:
        self.fills: list[Fill] = []
        self.rejections: list[Rejection] = []
        self._rng = random.Random(self.p.seed)
        self._arrived: set[int] = set()
        self._liquidity: tuple[str, bool] | None = None
        self._volume: deque[tuple[datetime, float]] = deque()
        self._volume_sum = 0.0
        self._order_ids: dict[int, int] = {}
        self.capped_buys = 0

    def start(self) -> None:
        super().start()
        self._reset_ledgers()

    # -- costs -------------------------------------------------------------------------------------------

    @property
    def fees_paid(self) -> float:
        return sum(f.fee for f in self.fills)

    @property
    def slippage_paid(self) -> float:
        return sum(f.slippage_cost for f in self.fills)

    def getcommissioninfo(self, data) -> KrakenCommInfo:
        return self._comminfo

    def rules_for(self, data) -> PairRules:
        return self._universe.resolve(data._name)

    def volume_30d(self, now: datetime) -> float:
        while self._volume and self._volume[0][0] <= now - _VOLUME_WINDOW:
            self._volume_sum -= self._volume.popleft()[1]
        return max(self._volume_sum, 0.0)

    # -- order entry -------------------------------------------------------------------------------------

    def buy(self, owner, data, size, price=None, plimit=None, **kwargs):
        size, price, plimit = self._round_request(data, size, price, plimit, True, kwargs.get("exectype"))
        if len(data):
            room = self.rules_for(data).round_size(self._pair_room(data, size, price or data.close[0]))
            if 0 < room < size:  # no room at all: the full order goes on to be Rejected with the reason
                self.capped_buys += 1
                size = room
        return super().buy(owner, data, size, price, plimit, **kwargs)

    def _pair_room(self, data, size: float, price: float) -> float:
        if self.p.max_pair_share is None or not is_limited(self.rules_for(data).base_currency):
            return size
        pending = sum(abs(o.executed.remsize) for o in self._open_orders() if o.data is data and o.isbuy())
        return allowed_buy_size(size, price, self.getposition(data).size, pending, self.getvalue(),
                                self.p.max_pair_share)

    def sell(self, owner, data, size, price=None, plimit=None, **kwargs):
        size, price, plimit = self._round_request(data, size, price, plimit, False, kwargs.get("exectype"))
        return super().sell(owner, data, size, price, plimit, **kwargs)

    def _round_request(self, data, size, price, plimit, is_buy, exectype):
        rules = self.rules_for(data)
        size = rules.round_size(abs(float(size)))
        limit_like = exectype in (bt.Order.Limit, None)
        if price is not None:
            # a limit never gets worse than asked; a stop trigger goes to the nearest tick
            price = rules.round_price(price, ("down" if is_buy else "up") if limit_like else "nearest")
        if plimit is not None:
            plimit = rules.round_price(plimit, "down" if is_buy else "up")
        return size, price, plimit

    def order_id(self, order) -> int:
        """A run-local order number (1, 2, ...): backtrader's ``order.ref`` counts across every run in a process,
        so it would make two identical runs' reports differ."""
        return self._order_ids.setdefault(order.ref, len(self._order_ids) + 1)

    def submit(self, order, check=True):
        self.order_id(order)
        reason = self._check(order)
        if reason is not None:
            return self._reject(order, reason)
        log.info("order paper-%d: %s %s %g (%s)", self.order_id(order), "buy" if order.isbuy() else "sell",
                 order.data._name, abs(order.size), describe(*order_labels(order)))
        return super().submit(order, check)

    def _reject(self, order, reason: str):
        data = order.data
        when = data.datetime.datetime(0) if len(data) else None
        order.addinfo(reject_reason=reason)
        order.reject(self)
        self.rejections.append(Rejection(when, data._name, "buy" if order.isbuy() else "sell",
                                         abs(order.size), reason, self.order_id(order)))
        log.info("order refused: %s %s %g: %s", "buy" if order.isbuy() else "sell", data._name, abs(order.size),
                 reason)
        self.notify(order)
        return order

    def _check(self, order) -> str | None:
        data = order.data
        if len(data) == 0:
            return "no market data yet for this pair"
        rules = self.rules_for(data)
        size = abs(order.size)
        state = self.p.schedule.state_at(data.datetime.datetime(0))
        if state is TradingState.DOWNTIME:
            return "downtime"
        if state is TradingState.TRANSITION and not self._reduces_exposure(order):
            return "transition: only orders that reduce exposure are accepted before downtime"
        if size <= 0:
            return f"size rounds to 0 at {rules.lot_decimals} lot decimals"
        if size < rules.ordermin:
            return f"ordermin: {size:g} {rules.base_currency} is below the minimum {rules.ordermin:g}"
        reference = order.created.price if order.created.price else data.close[0]
        notional = size * reference
        if notional < rules.costmin:
            return f"costmin: {notional:.4f} USD is below the minimum cost {rules.costmin:g}"
        if order.isbuy() and self._pair_room(data, size, reference) < size - 0.5 * 10.0 ** -rules.lot_decimals:
            return (f"pair exposure limit: {data._name} would exceed max_pair_share "
                    f"{self.p.max_pair_share:g} of the portfolio")
        if order.isbuy():
            _, taker = self.p.fees.rates(self.volume_30d(data.datetime.datetime(0)))
            worst = reference * (1 + (self.p.slippage_bps + self.p.random_slippage_bps) / 1e4)
            need = size * worst * (1 + taker)
            free = self.cash - self._reserved_cash()
            if need > free + 1e-9:
                return f"insufficient funds: needs {need:.2f} USD, {max(free, 0):.2f} free"
        else:
            held = self.getposition(data).size - self._reserved_sells(data)
            if size > held + 0.5 * 10.0 ** -rules.lot_decimals:  # float residue of summed fills is not a shortfall
                return (f"insufficient holdings: sell {size:g} but {max(held, 0):g} {rules.base_currency} free "
                        "(spot: no shorting)")
        return None

    def _reduces_exposure(self, order) -> bool:
        return not order.isbuy() and abs(order.size) <= self.getposition(order.data).size + 1e-12

    def _open_orders(self):
        return [o for o in self.pending if o is not None and o.alive()]

    def _reserved_cash(self) -> float:
        _, taker = self.p.fees.rates(self._volume_sum)
        reserved = 0.0
        for o in self._open_orders():
            if o.isbuy():
                price = o.created.price or o.data.close[0]
                reserved += abs(o.executed.remsize) * price * (1 + taker)
        return reserved

    def _reserved_sells(self, data) -> float:
        return sum(abs(o.executed.remsize) for o in self._open_orders() if o.data is data and not o.isbuy())

    # -- execution ---------------------------------------------------------------------------------------

    def _fill_size(self, order, price, ago) -> float:
        """Filler: the remaining size, capped at ``volume_share`` of the bar's volume, on the lot grid.

        Partial fills subtract floats from the order's remaining size, which can leave dust (4.5e-13) that no
        lot-sized fill can take; a remainder within half a lot of the fill is therefore filled whole, so an
        order always completes instead of staying Partial forever.
        """
        remaining = abs(order.executed.remsize)
        if self.p.volume_share is None:
            return remaining
        rules = self.rules_for(order.data)
        cap = self.p.volume_share * max(order.data.volume[ago], 0.0)
        size = min(rules.round_size(min(remaining, cap)), remaining)
        if remaining - size < 0.5 * 10.0 ** -rules.lot_decimals and (size > 0 or cap >= remaining):
            return remaining
        return size

    def notify(self, order) -> None:
        """Complete an order whose remainder is float dust (under half a lot, either sign) before it is notified.

        backtrader derives each execution from position arithmetic, so a remainder can end at +-1e-9 instead
        of 0; such an order would stay Partial forever and block its owner.
        """
        if order.status == bt.Order.Partial:
            half_lot = 0.5 * 10.0 ** -self.rules_for(order.data).lot_decimals
            if abs(order.executed.remsize) < half_lot:
                order.executed.remsize = 0.0
                order.status = bt.Order.Completed
        super().notify(order)

    def _try_exec_market(self, order, popen, phigh, plow):
        self._liquidity = ("taker", True)
        try:
            super()._try_exec_market(order, popen, phigh, plow)
        finally:
            self._liquidity = None

    def _try_exec_stop(self, order, popen, phigh, plow, pcreated, pclose):
        self._liquidity = ("taker", True)
        try:
            super()._try_exec_stop(order, popen, phigh, plow, pcreated, pclose)
        finally:
            self._liquidity = None

    def _try_exec_limit(self, order, popen, phigh, plow, plimit):
        """Cross on arrival -> taker at the open; rested then reached -> maker at the limit price."""
        arriving = order.ref not in self._arrived
        self._arrived.add(order.ref)
        is_buy = order.isbuy()
        crosses = popen <= plimit if is_buy else popen >= plimit
        touched = plow <= plimit if is_buy else phigh >= plimit
        if arriving and crosses:
            role, price = "taker", popen
        elif touched:
            role, price = "maker", plimit
        else:
            return
        self._liquidity = (role, False)
        try:
            self._execute(order, ago=0, price=price)
        finally:
            self._liquidity = None

    def _execute(self, order, ago=None, price=None, cash=None, position=None, dtcoc=None):
        if ago is None or price is None:
            return super()._execute(order, ago, price, cash, position, dtcoc)
        role, slips = self._liquidity or ("taker", False)
        if order.exectype not in _MARKETABLE:
            slips = False
        rules = self.rules_for(order.data)
        reference = price
        if slips:
            price = self._slipped(price, order.isbuy(), rules)
        now = order.data.datetime.datetime(ago)
        maker, taker = self.p.fees.rates(self.volume_30d(now))
        rate = maker if role == "maker" else taker
        self._comminfo.p.commission = rate
        size_before, comm_before = order.executed.size, order.executed.comm
        super()._execute(order, ago, price, cash, position, dtcoc)
        filled = order.executed.exbits[-1].size if order.executed.size != size_before else 0.0
        if filled:
            notional = abs(filled) * price
            self._volume.append((now, notional))
            self._volume_sum += notional
            strategy, regime, reason = order_labels(order)
            self.fills.append(Fill(
                dt=now, symbol=order.data._name, side="buy" if order.isbuy() else "sell", size=abs(filled),
                price=price, notional=notional, fee=order.executed.comm - comm_before, fee_rate=rate,
                liquidity=role, reference_price=reference, slippage_cost=abs(filled) * abs(price - reference),
                order_id=self.order_id(order), strategy=strategy, regime=regime, reason=reason,
            ))
            log.info("fill paper-%d: %s %s %g at %g, fee %.4f USD (%s)", self.order_id(order),
                     "buy" if order.isbuy() else "sell", order.data._name, abs(filled), price,
                     order.executed.comm - comm_before, describe(strategy, regime, reason))
        if order.status == bt.Order.Margin:
            self.rejections.append(Rejection(now, order.data._name, "buy" if order.isbuy() else "sell",
                                             abs(order.executed.remsize), "insufficient funds at fill",
                                             self.order_id(order)))
        return None

    def _slipped(self, price: float, is_buy: bool, rules: PairRules) -> float:
        bps = self.p.slippage_bps
        if self.p.random_slippage_bps > 0:
            bps += self._rng.uniform(0.0, self.p.random_slippage_bps)
        if is_buy:
            return rules.round_price(price * (1 + bps / 1e4), "up")
        return rules.round_price(price * (1 - bps / 1e4), "down")
