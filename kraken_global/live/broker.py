"""The live broker: backtrader orders become Kraken orders, and Kraken's fills come back as backtrader's.

What the community ccxt brokers get wrong, and what this one does instead:

- **Fills carry the real price and fee.** Each poll compares the exchange's ``filled``/``cost``/``fee`` of an order
  with what backtrader was told; the difference is one execution bit at the volume-weighted price of the new
  part, with its fee as commission. Strategies and analyzers see Partial and Completed exactly as in a backtest.
- **Never doubled, never lost.** The intent is written to SQLite *before* sending (with a client order id and,
  before each send, the AddOrder's deadline on Kraken's clock). An order whose placement is unknown stays alive
  (Submitted) and its pair takes no new order until Kraken's records settle it (:meth:`KrakenStore.lookup` each
  sync): found, it goes on as placed; proven absent, it is Rejected "not placed" and the strategy decides again on
  its next bar from the reconciled position. A copy that Kraken shows only later is adopted (its fills recorded and
  handed to the strategy that placed it; a resting one cancelled), never doubled. Every exchange trade of our
  orders is recorded once. On start the state is reconciled with the exchange before anything else.
- **Only what is its own** (:mod:`~kraken_global.live.ownership`): it cancels only orders it placed (at start, on
  stop, in the kill switch), sells only the units its own fills built, and spends at most its capital budget. A
  start on an account with other open orders while the dead man's switch is on is refused unless
  ``dedicated_account``: Kraken's switch cancels every order of the account.
- **Rules before sending** (:mod:`~kraken_global.live.order_checks`): a refused order is Rejected with
  ``order.info["reject_reason"]``. The daily-loss kill switch: :mod:`~kraken_global.live.kill_switch`; orders no
  strategy owns any more (an earlier run's, late copies): :mod:`~kraken_global.live.leftovers`.
- **Dead man's switch** on its own thread (:class:`~kraken_global.live.dead_mans_switch.DeadMansSwitch`), so a
  blocked placement cannot starve it.
"""

from __future__ import annotations

import logging
from collections import deque

import backtrader as bt

from kraken_global.events import emit
from kraken_global.live.dead_mans_switch import DeadMansSwitch
from kraken_global.live.errors import (
    LiveError,
    OrderNotPlaced,
    OrderRejected,
    PlacementUnknown,
    TradingRefused,
)
from kraken_global.live.kill_switch import KillSwitch
from kraken_global.live.leftovers import Leftovers
from kraken_global.live.order_checks import OrderChecks
from kraken_global.live.ownership import bot_cash, foreign_orders_refusal, own_units, split_open_orders
from kraken_global.live.risk import RiskGuard, RiskLimits
from kraken_global.live.start_wait import start_patiently
from kraken_global.live.state import TradingState
from kraken_global.live.store import KrakenStore, new_client_order_id
from kraken_global.order_reasons import describe, order_labels
from kraken_global.paper_broker import Fill, Rejection
from kraken_global.registry.crash import kill_point
from kraken_global.schedule import DowntimeSchedule
from kraken_global.universe import PairRules, Universe, catalog

log = logging.getLogger(__name__)
_EPS = 1e-12
DEFAULT_FEES = (0.0016, 0.0026)  # (maker, taker) until the account's own are read


class _Tracked:
    """What backtrader has been told about one live order so far."""

    def __init__(self, order: bt.Order, client_id: str, reference_price: float) -> None:
        self.order = order
        self.client_id = client_id
        self.reference_price = reference_price
        self.txid: str | None = None
        self.filled = 0.0
        self.cost = 0.0
        self.fee = 0.0


class KrakenLiveBroker(OrderChecks, Leftovers, KillSwitch, bt.broker.BrokerBase):
    params = (
        ("store", None),
        ("state", None),
        ("universe", None),
        ("risk", RiskLimits()),
        ("schedule", DowntimeSchedule()),
        ("quote", "USD"),
        ("sync_seconds", 2.0),
        ("dead_mans_switch_seconds", 60),  # None: no dead man's switch
        ("dms_refresh_seconds", 20.0),
        ("max_pair_share", None),  # the config passes broker.max_pair_share
        ("dedicated_account", False),  # the account holds nothing but the bot's orders: its switch may cancel all
        ("capital_budget", None),  # USD the bot may spend beyond what its fills brought back (None: no cap)
        ("fees", DEFAULT_FEES),  # (maker, taker) the account pays (TradeVolume)
        ("start_wait_seconds", 120.0),  # how long a start waits out Kraken's refusals of its lookups (0: not at all)
        ("stop", None),  # a StopRequest: a stop asked for while the start waits ends the wait
    )

    def __init__(self) -> None:
        super().__init__()
        self.store: KrakenStore = self.p.store
        self.state: TradingState = self.p.state
        self._universe: Universe = self.p.universe or catalog()
        self.risk = RiskGuard(self.p.risk)
        self.notifs: deque = deque()
        self.tracked: dict[str, _Tracked] = {}
        self._init_leftovers()
        self.balances: dict[str, dict[str, float]] = {}
        self.positions: dict = {}
        self.datas: list = []
        self.fills: list[Fill] = []
        self.rejections: list[Rejection] = []
        self.reconciliation: list[str] = []
        self.flatten_epoch = 0
        self.dms: DeadMansSwitch | None = None
        self.clock_problem: str | None = None
        self.foreign_orders = 0
        self._built: dict[str, float] = {}
        self._cash_flow = 0.0
        self._order_ids: dict[int, int] = {}
        self._next_sync = 0.0
        self._unreachable = False
        self._fills_behind = False
        self.startingcash = 0.0

    def __repr__(self) -> str:
        return f"KrakenLiveBroker(store={self.store!r})"

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        super().start()
        stop = self.p.stop

        def patiently(step):
            return start_patiently(step, self.p.start_wait_seconds, self.store.clock,
                                   lambda: stop is not None and stop.requested)

        patiently(self._start_with_exchange)
        if self.p.dead_mans_switch_seconds:  # arming it is refused by the same rate limit: it waits the same way
            self.dms = patiently(lambda: DeadMansSwitch(self.store, self.p.dead_mans_switch_seconds,
                                                        self.p.dms_refresh_seconds).start())

    def _start_with_exchange(self) -> None:
        """Reconcile with Kraken's records, deal with open orders, read fills and balances (repeatable: a lookup
        Kraken refused midway settles nothing, and the next attempt starts over from the state)."""
        first = len(self.reconciliation)
        self.reconciliation += self.state.reconcile(self.store)
        ours, foreign = split_open_orders(self.store.fetch_open_orders(), self.state.client_ids())
        self.foreign_orders = len(foreign)
        refusal = foreign_orders_refusal(len(foreign), self.p.dead_mans_switch_seconds, self.p.dedicated_account)
        if refusal is not None:
            raise TradingRefused(refusal)
        if foreign:
            log.info("%d open order(s) on the account are not this bot's: left alone", len(foreign))
        self._take_over_leftovers(ours)
        for line in self.reconciliation[first:]:
            log.info("reconciliation: %s", line)
        self._take_new_fills()
        self._refresh_balances()
        self.startingcash = self.getcash()

    def stop(self) -> None:
        """A last sync, so that a fill of the last bar's order reaches the results as it reached the state."""
        try:
            self._sync()
        except LiveError as exc:
            log.warning("final sync with the exchange failed: %s; the next start reconciles", exc)
        if self.dms is not None:
            self.dms.stop(disarm=False)  # the session switches it off once it has dealt with its open orders
        super().stop()

    def on_session_stop(self, policy: str) -> None:
        """The session ended: ``cancel`` the bot's open orders (the default), or ``leave`` them resting; either way
        the dead man's switch is switched off, so it cannot later cancel what is left on the account."""
        try:
            if policy == "cancel":
                for tracked in list(self.tracked.values()):
                    if tracked.txid:
                        self.store.cancel_if_open(tracked.txid)  # one that closed meanwhile finishes from its fills
                    self._sync_order(tracked)
                    log.info("stop: order %s cancelled", tracked.client_id)
            else:
                log.info("stop: %d open order(s) left on the exchange", len(self.tracked))
        except LiveError as exc:
            log.error("stop: the exchange did not answer (%s); the dead man's switch cancels every order of the "
                      "account within %s s", exc, self.p.dead_mans_switch_seconds)
            if self.dms is not None:
                self.dms.stop(disarm=False)
            return
        if self.dms is not None:
            self.dms.stop(disarm=True)
            log.info("stop: dead man's switch off")

    def unsettled(self) -> list[str]:
        """Client ids of orders whose outcome Kraken's records have not settled (for the summary and status)."""
        return sorted({t.client_id for t in self.tracked.values() if t.txid is None} | set(self.orphans))

    # -- what backtrader asks ----------------------------------------------------------------------------------

    def rules_for(self, data) -> PairRules:
        return self._universe.resolve(data._name)

    def _balance(self, currency: str, kind: str = "total") -> float:
        return float(self.balances.get(currency, {}).get(kind) or 0.0)

    def _units(self, data, kind: str = "total") -> float:
        """The bot's own units of ``data``'s pair (see :mod:`~kraken_global.live.ownership`)."""
        return own_units(self._built.get(data._name, 0.0), self._balance(self.rules_for(data).base_currency, kind))

    def _committed(self) -> float:
        """Quote currency held for the bot's open buys (with the taker fee)."""
        return sum(t.order.executed.remsize * (t.order.created.price or t.reference_price) * (1 + self.p.fees[1])
                   for t in self.tracked.values() if t.order.isbuy() and t.order.alive())

    def getcash(self) -> float:
        budget = self.p.capital_budget
        return bot_cash(self._balance(self.p.quote, "free"), budget, self._cash_flow,
                        self._committed() if budget is not None else 0.0)

    def getvalue(self, datas=None) -> float:
        value = bot_cash(self._balance(self.p.quote), self.p.capital_budget, self._cash_flow)
        for data in datas or self.datas:
            if len(data):
                value += self._units(data) * data.close[0]
        return value

    def getposition(self, data, clone: bool = True) -> bt.Position:
        self._know(data)
        position = self.positions[data]
        return position.clone() if clone else position

    def get_notification(self):
        return self.notifs.popleft() if self.notifs else None

    def notify(self, order) -> None:
        self.notifs.append(order.clone())

    def order_id(self, order) -> int:
        return self._order_ids.setdefault(order.ref, len(self._order_ids) + 1)

    def _know(self, data) -> None:
        if data not in self.positions:
            self.datas.append(data)
            self.positions[data] = bt.Position(self._units(data), 0.0)

    # -- order entry -------------------------------------------------------------------------------------------

    def buy(self, owner, data, size, price=None, plimit=None, exectype=None, valid=None, tradeid=0, oco=None,
            trailamount=None, trailpercent=None, parent=None, transmit=True, **kwargs):
        size = abs(size)
        if len(data):  # the per-pair exposure limit, as the paper broker applies it
            room = self.rules_for(data).round_size(self._pair_room(data, size, price or data.close[0]))
            size = room if 0 < room < size else size
        order = bt.BuyOrder(owner=owner, data=data, size=self.rules_for(data).round_size(size), price=price,
                            pricelimit=plimit, exectype=exectype, valid=valid, tradeid=tradeid)
        return self._submit(order, kwargs)

    def sell(self, owner, data, size, price=None, plimit=None, exectype=None, valid=None, tradeid=0, oco=None,
             trailamount=None, trailpercent=None, parent=None, transmit=True, **kwargs):
        order = bt.SellOrder(owner=owner, data=data, size=self.rules_for(data).round_size(abs(size)), price=price,
                             pricelimit=plimit, exectype=exectype, valid=valid, tradeid=tradeid)
        return self._submit(order, kwargs)

    def cancel(self, order) -> None:
        """Cancel on the exchange; an order that closed meanwhile (Kraken: ``EOrder:Unknown order``) is finished
        from its fills instead: Completed, or Canceled with what executed."""
        for tracked in list(self.tracked.values()):
            if tracked.order is order and tracked.txid:
                if not self.store.cancel_if_open(tracked.txid):
                    log.info("cancel %s: the order is no longer open; finishing it from its fills", tracked.client_id)
                self._sync_order(tracked)

    def _reject(self, order, reason: str):
        data = order.data
        order.addinfo(reject_reason=reason)
        order.reject(self)
        when = data.datetime.datetime(0) if len(data) else None
        side = "buy" if order.isbuy() else "sell"
        self.rejections.append(Rejection(when, data._name, side, abs(order.size), reason, self.order_id(order)))
        emit(log, logging.INFO, "order_refused", "order refused: %s %s %g: %s", side, data._name, abs(order.size),
             reason, pair=data._name, side=side, size=abs(order.size), reason=reason,
             cl_ord_id=order.info.get("client_order_id"))
        self.notify(order)
        return order

    def _submit(self, order, info: dict):
        order.addinfo(**info)
        order.addcomminfo(self.getcommissioninfo(order.data))
        self.order_id(order)
        reason = self._check(order)
        if reason is not None:
            return self._reject(order, reason)
        data = order.data
        order.submit(self)
        self.notify(order)
        client_id = new_client_order_id()
        order.addinfo(client_order_id=client_id)
        side = "buy" if order.isbuy() else "sell"
        kind = "limit" if order.exectype == bt.Order.Limit else "market"
        price = order.created.price if kind == "limit" else None
        labels = order_labels(order)
        owner = type(order.owner).__name__ if order.owner is not None else None
        self.state.record_intent(client_id, data._name, side, kind, abs(order.size), price, owner, *labels[1:])
        log.info("order %s: %s %s %g %s%s (intent recorded; %s)", client_id, side, data._name, abs(order.size),
                 kind, f" at {price:g}" if price else "", describe(*labels))
        tracked = _Tracked(order, client_id, data.close[0])
        kill_point("live:after-intent")
        try:
            placed = self.store.submit_order(data._name, side, kind, abs(order.size), price, client_order_id=client_id,
                                             post_only=bool(order.info.get("postonly")),
                                             on_send=self.state.set_deadline)
            kill_point("live:after-send")
        except OrderNotPlaced as exc:
            self.state.mark(client_id, "rejected" if isinstance(exc, OrderRejected) else "not_placed")
            return self._reject(order, exc.reason if isinstance(exc, OrderRejected) else f"not placed: {exc.reason}")
        except LiveError as exc:  # PlacementUnknown, or a failure no lookup could follow: the order may exist
            self.state.mark(client_id, "unknown")
            emit(log, logging.ERROR, "order_unknown", "placing %s: %s; no new order for %s until Kraken's records "
                 "settle it", client_id, exc, data._name, pair=data._name, cl_ord_id=client_id, side=side,
                 reason=str(exc) if isinstance(exc, PlacementUnknown) else f"{type(exc).__name__}: {exc}")
            self.tracked[client_id] = tracked
            return order
        self.tracked[client_id] = tracked
        self._apply(tracked, placed)
        return order

    # -- the exchange's view -------------------------------------------------------------------------------

    def _apply(self, tracked: _Tracked, exchange_order: dict) -> None:
        """Tell backtrader what changed in the exchange's view of the order."""
        order = tracked.order
        self.state.update_from_exchange(tracked.client_id, exchange_order)
        if tracked.txid is None:
            tracked.txid = exchange_order["id"]
            order.addinfo(txid=tracked.txid)
            order.accept(self)
            self.notify(order)
        filled = float(exchange_order.get("filled") or 0.0)
        if filled > tracked.filled + _EPS:
            cost = float(exchange_order.get("cost") or filled * float(exchange_order.get("average") or 0))
            fee = float((exchange_order.get("fee") or {}).get("cost") or 0.0)
            self._execute(tracked, filled - tracked.filled, cost - tracked.cost, fee - tracked.fee)
            tracked.filled, tracked.cost, tracked.fee = filled, cost, fee
            self._fills_behind = True
            self._catch_up_fills()
        status = exchange_order.get("status")
        if status == "closed":
            order.completed()
        elif status in ("canceled", "expired", "rejected"):
            {"canceled": order.cancel, "expired": order.expire, "rejected": lambda: order.reject(self)}[status]()
        elif filled > _EPS:
            order.partial()
        else:
            return
        self.notify(order)
        if not order.alive():
            self.tracked.pop(tracked.client_id, None)

    def _execute(self, tracked: _Tracked, size: float, cost: float, fee: float) -> None:
        order, data = tracked.order, tracked.order.data
        price = cost / size
        signed = size if order.isbuy() else -size
        position = self.positions[data]
        psize, pprice, opened, closed = position.update(signed, price)
        order.execute(data.datetime[0], signed, price, closed, closed * price, fee if closed else 0.0,
                      opened, opened * price, 0.0 if closed else fee, 0.0, 0.0, psize, pprice)
        reference = tracked.reference_price
        slippage = (price - reference) * size if order.isbuy() else (reference - price) * size
        liquidity = "taker" if order.exectype in (None, bt.Order.Market) else "maker"
        self._record_fill(data, tracked.client_id, "buy" if order.isbuy() else "sell", size, price, fee, liquidity,
                          reference, self.order_id(order), order_labels(order), slippage)

    def _record_fill(self, data, client_id: str, side: str, size: float, price: float, fee: float, liquidity: str,
                     reference: float, number: int, labels: tuple[str, str, str], slippage: float | None = None,
                     why: str = "") -> None:
        """One fill into the results and the log, with who placed its order and why (``labels``:
        strategy, regime, reason; see :mod:`kraken_global.order_reasons`)."""
        cost = size * price
        if slippage is None:
            slippage = (price - reference) * size if side == "buy" else (reference - price) * size
        self.fills.append(Fill(data.datetime.datetime(0) if len(data) else None, data._name, side, size, price, cost,
                               fee, fee / cost if cost else 0.0, liquidity, reference, slippage, number, *labels))
        log.info("fill %s: %s %s %g at %g, fee %.4f USD (%s)%s", client_id, side, data._name, size, price, fee,
                 describe(*labels), why)

    def _sync_order(self, tracked: _Tracked) -> None:
        if tracked.txid is not None:
            self._apply(tracked, self.store.fetch_order(tracked.txid))
            return
        row = self.state.order(tracked.client_id) or {}
        outcome = self.store.lookup(tracked.client_id, row.get("symbol"), row.get("side"), row.get("deadline"))
        if outcome.status == "found":
            log.warning("order %s: found on the exchange after an unknown outcome", tracked.client_id)
            self._apply(tracked, outcome.order)
        elif outcome.status == "absent":
            self.state.settle(tracked.client_id, outcome)
            self.tracked.pop(tracked.client_id, None)
            self._reject(tracked.order, f"not placed: {outcome.why}")

    def _catch_up_fills(self) -> None:
        """Record the trades of new executions in the state; when TradesHistory cannot be read now, every later
        sync tries again until it can (the order's notification does not wait for it)."""
        try:
            self.state.sync_fills(self.store)
            self._take_new_fills()
            self._refresh_balances()
        except LiveError as exc:
            log.warning("the trades of a new fill could not be read yet (%s); trying again at the next sync", exc)
            return
        self._fills_behind = False

    def _refresh_balances(self) -> None:
        self._built, self._cash_flow = self.state.executed()
        self.balances = self.store.fetch_balance()
        for data, position in self.positions.items():
            position.set(self._units(data), position.price)

    def strategy_books(self, strategy: str) -> dict[str, dict[str, float]]:
        return self.state.strategy_books(strategy)

    @property
    def fees_paid(self) -> float:
        return sum(f.fee for f in self.fills)

    # -- each cerebro loop -------------------------------------------------------------------------------------

    def _sync(self) -> None:
        if self._fills_behind:
            self._catch_up_fills()
        for tracked in list(self.tracked.values()):
            self._sync_order(tracked)
        if self.orphans:
            self._sync_orphans()
        self._scan_late_copies()
        self._take_new_fills()
        self._refresh_balances()

    def next(self) -> None:
        now = self.store.clock.time()
        try:
            problem = self.store.check_clock()
            if problem != self.clock_problem and problem is not None:
                log.error("%s", problem)
            self.clock_problem = problem
            if now < self._next_sync and not self.tracked and not self.orphans:
                return
            self._next_sync = now + self.p.sync_seconds
            self._sync()
        except LiveError as exc:  # the exchange is unreachable for now: try again next loop
            if not self._unreachable:
                emit(log, logging.WARNING, "exchange_unreachable", "syncing with the exchange failed: %s", exc,
                     reason=str(exc))
            self._unreachable = True
            return
        if self._unreachable:
            log.info("the exchange answers again")
        self._unreachable = False
        self._watch_daily_loss()

