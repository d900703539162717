"""The live broker: backtrader orders become Kraken orders, and Kraken's fills come back as backtrader's.

What the community ccxt brokers get wrong, and what this one does instead:

- **Fills carry the real price and fee.** Each poll compares the exchange's ``filled``/``cost``/``fee`` of an order
  with what backtrader was told; the difference is one execution bit at the volume-weighted price of the new
  part, with its fee as commission. Strategies and analyzers see Partial and Completed exactly as in a backtest.
- **Never doubled, never lost.** The intent is written to SQLite *before* sending (with a client order id and,
  before each send, the AddOrder's deadline), the store resolves an unknown outcome by looking that id up until the
  deadline has passed, an order still unknown after that is Rejected as never placed, and every exchange trade of
  our orders is recorded once. A cancel that meets an order which closed meanwhile finishes it from its fills.
  On start the state is reconciled with the exchange before anything else; orders an earlier run left open are
  cancelled (no strategy owns them any more) and their fills are kept.
- **Cash and positions are the exchange's**: balances are re-read after fills and every ``sync_seconds``; a pair's
  position is the account's balance of its base asset.
- **Rules before sending**: the downtime schedule (as in the paper broker), Kraken's lot precision, ``ordermin``
  and ``costmin``, and the risk limits (order and position notional, the daily-loss kill switch that cancels
  everything and sells every position). A refused order is Rejected with ``order.info["reject_reason"]``.
- **Dead man's switch**: ``CancelAllOrdersAfter`` is refreshed every ``dms_refresh_seconds`` while the broker
  runs, so resting orders do not outlive a crashed process.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from datetime import datetime

import backtrader as bt

from kraken_global.alerts import event_extra
from kraken_global.exposure import allowed_buy_size, is_limited
from kraken_global.live.errors import LiveError, OrderRejected, UnknownOrderError
from kraken_global.live.risk import RiskGuard, RiskLimits
from kraken_global.live.state import TradingState
from kraken_global.live.store import KrakenStore, new_client_order_id
from kraken_global.paper_broker import Fill, Rejection
from kraken_global.registry.crash import kill_point
from kraken_global.schedule import DowntimeSchedule
from kraken_global.schedule import TradingState as Session
from kraken_global.universe import PairRules, Universe, catalog

log = logging.getLogger(__name__)
_EPS = 1e-12


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


class KrakenLiveBroker(bt.broker.BrokerBase):
    params = (
        ("store", None),
        ("state", None),
        ("universe", None),
        ("risk", RiskLimits()),
        ("schedule", DowntimeSchedule()),
        ("quote", "USD"),
        ("sync_seconds", 2.0),
        ("dead_mans_switch_seconds", 60),
        ("dms_refresh_seconds", 20.0),
        ("max_pair_share", None),  # the config passes broker.max_pair_share
    )

    def __init__(self) -> None:
        super().__init__()
        self.store: KrakenStore = self.p.store
        self.state: TradingState = self.p.state
        self._universe: Universe = self.p.universe or catalog()
        self.risk = RiskGuard(self.p.risk)
        self.notifs: deque = deque()
        self.tracked: dict[str, _Tracked] = {}
        self.balances: dict[str, dict[str, float]] = {}
        self.positions: dict = {}
        self.datas: list = []
        self.fills: list[Fill] = []
        self.rejections: list[Rejection] = []
        self.reconciliation: list[str] = []
        self.flatten_epoch = 0
        self._order_ids: dict[int, int] = {}
        self._next_sync = 0.0
        self._next_dms = 0.0
        self.startingcash = 0.0

    def __repr__(self) -> str:
        return f"KrakenLiveBroker(store={self.store!r})"

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        super().start()
        self.reconciliation = self.state.reconcile(self.store)
        for order in self.store.fetch_open_orders():
            name = order.get("clientOrderId") or order["id"]
            try:
                self.store.cancel_order(order["id"])
            except UnknownOrderError:  # it filled or was cancelled meanwhile: its fills are read below
                self.reconciliation.append(f"{name}: left open by an earlier run, closed before it was cancelled")
                continue
            self.reconciliation.append(f"{name}: left open by an earlier run, cancelled")
        if self.reconciliation:
            self.state.reconcile(self.store)
        for line in self.reconciliation:
            log.info("reconciliation: %s", line)
        self._refresh_balances()
        self.startingcash = self.getcash()
        self._refresh_dead_mans_switch(force=True)

    def stop(self) -> None:
        """A last sync, so that a fill of the last bar's order reaches the results as it reached the state."""
        try:
            for tracked in list(self.tracked.values()):
                self._sync_order(tracked)
        except LiveError as exc:
            log.warning("final sync with the exchange failed: %s; the next start reconciles", exc)
        super().stop()

    def on_session_stop(self, policy: str) -> None:
        """A stop signal ended the session: ``cancel`` our open orders (the default), or ``leave`` them resting and
        switch the dead man's switch off (timeout 0), which would otherwise cancel them within a minute."""
        try:
            if policy == "cancel":
                for tracked in list(self.tracked.values()):
                    if tracked.txid:
                        self.store.cancel_order(tracked.txid)
                    self._sync_order(tracked)
                    log.info("stop: order %s cancelled", tracked.client_id)
            else:
                self.store.refresh_dead_mans_switch(0)
                log.info("stop: %d open order(s) left on the exchange; dead man's switch off", len(self.tracked))
        except LiveError as exc:
            log.error("stop: the exchange did not answer (%s); the dead man's switch cancels our orders within "
                      "%d s", exc, self.p.dead_mans_switch_seconds)

    # -- what backtrader asks ----------------------------------------------------------------------------------

    def rules_for(self, data) -> PairRules:
        return self._universe.resolve(data._name)

    def _balance(self, currency: str, kind: str = "total") -> float:
        return float(self.balances.get(currency, {}).get(kind) or 0.0)

    def getcash(self) -> float:
        return self._balance(self.p.quote, "free")

    def getvalue(self, datas=None) -> float:
        value = self._balance(self.p.quote)
        for data in datas or self.datas:
            if len(data):
                value += self._balance(self.rules_for(data).base_currency) * data.close[0]
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
            self.positions[data] = bt.Position(self._balance(self.rules_for(data).base_currency), 0.0)

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

    def _pair_room(self, data, size: float, price: float) -> float:
        if self.p.max_pair_share is None or not is_limited(self.rules_for(data).base_currency):
            return size
        self._know(data)
        pending = sum(abs(t.order.executed.remsize) for t in self.tracked.values()
                      if t.order.data is data and t.order.isbuy() and t.order.alive())
        return allowed_buy_size(size, price, self._balance(self.rules_for(data).base_currency), pending,
                                self.getvalue(), self.p.max_pair_share)

    def cancel(self, order) -> None:
        """Cancel on the exchange; an order that closed meanwhile (Kraken: ``EOrder:Unknown order``) is finished
        from its fills instead: Completed, or Canceled with what executed."""
        for tracked in list(self.tracked.values()):
            if tracked.order is order and tracked.txid:
                try:
                    self.store.cancel_order(tracked.txid)
                except UnknownOrderError:
                    log.info("cancel %s: the order is no longer open; finishing it from its fills", tracked.client_id)
                self._sync_order(tracked)

    def _reject(self, order, reason: str):
        data = order.data
        order.addinfo(reject_reason=reason)
        order.reject(self)
        when = data.datetime.datetime(0) if len(data) else None
        self.rejections.append(Rejection(when, data._name, "buy" if order.isbuy() else "sell", abs(order.size),
                                         reason, self.order_id(order)))
        log.info("order refused: %s %s %g: %s", "buy" if order.isbuy() else "sell", data._name, abs(order.size),
                 reason)
        self.notify(order)
        return order

    def _check(self, order) -> str | None:
        data = order.data
        self._know(data)
        if not len(data):
            return "no market data yet for this pair"
        if order.exectype not in (None, bt.Order.Market, bt.Order.Limit):
            return "live trading supports market and limit orders only"
        rules = self.rules_for(data)
        size, side = abs(order.size), "buy" if order.isbuy() else "sell"
        position = self._balance(rules.base_currency)
        session = self.p.schedule.state_at(data.datetime.datetime(0))
        reduces = side == "sell" and size <= position + _EPS
        if session is Session.DOWNTIME:
            return "downtime"
        if session is Session.TRANSITION and not reduces:
            return "transition: only orders that reduce exposure are accepted before downtime"
        if size <= 0:
            return f"size rounds to 0 at {rules.lot_decimals} lot decimals"
        if size < rules.ordermin:
            return f"ordermin: {size:g} {rules.base_currency} is below the minimum {rules.ordermin:g}"
        price = order.created.price or data.close[0]
        if size * price < rules.costmin:
            return f"costmin: {size * price:.4f} USD is below the minimum cost {rules.costmin:g}"
        if side == "sell" and size > self._balance(rules.base_currency, "free") + 0.5 * 10.0 ** -rules.lot_decimals:
            return f"insufficient holdings: sell {size:g} {rules.base_currency} (spot: no shorting)"
        if side == "buy" and self._pair_room(data, size, price) < size - 0.5 * 10.0 ** -rules.lot_decimals:
            return f"pair exposure limit: {data._name} would exceed max_pair_share {self.p.max_pair_share:g}"
        return self.risk.check_order(side, size, price, position)

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
        owner = type(order.owner).__name__ if order.owner is not None else None
        self.state.record_intent(client_id, data._name, side, kind, abs(order.size), price, owner)
        log.info("order %s: %s %s %g %s%s (intent recorded, by %s)", client_id, side, data._name, abs(order.size),
                 kind, f" at {price:g}" if price else "", owner)
        tracked = _Tracked(order, client_id, data.close[0])
        kill_point("live:after-intent")
        try:
            placed = self.store.submit_order(data._name, side, kind, abs(order.size), price, client_order_id=client_id,
                                             on_send=self.state.set_deadline)
            kill_point("live:after-send")
        except OrderRejected as exc:
            self.state.mark(client_id, "rejected")
            return self._reject(order, exc.reason)
        except LiveError as exc:
            # the outcome is unknown: the intent stays unsettled and each sync looks the client id up
            log.error("placing %s: %s; will look it up on the exchange", client_id, exc)
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
            self.state.sync_fills(self.store)
            self._refresh_balances()
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
        self.fills.append(Fill(data.datetime.datetime(0), data._name, "buy" if order.isbuy() else "sell", size, price,
                               cost, fee, fee / cost if cost else 0.0, liquidity, reference, slippage,
                               self.order_id(order)))
        log.info("fill %s: %s %s %g at %g, fee %.4f USD", tracked.client_id, "buy" if order.isbuy() else "sell",
                 data._name, size, price, fee)

    def _sync_order(self, tracked: _Tracked) -> None:
        if tracked.txid is None:
            found = self.store.find_by_client_id(tracked.client_id)
            if found is None:
                self._settle_if_never_placed(tracked)
                return
            self._apply(tracked, found)
            return
        self._apply(tracked, self.store.fetch_order(tracked.txid))

    def _settle_if_never_placed(self, tracked: _Tracked) -> None:
        """An order whose placement is unknown and that the exchange does not show is proven never placed once
        its deadline has passed by the store's margin (Kraken refuses it after the deadline); until then it may
        still enter the book, and the next sync looks again."""
        row = self.state.order(tracked.client_id) or {}
        deadline = row.get("deadline")
        if deadline is not None and time.time() <= deadline + self.store.settings.deadline_margin_seconds:
            return
        self.state.mark(tracked.client_id, "not_placed")
        self.tracked.pop(tracked.client_id, None)
        order = tracked.order
        order.addinfo(reject_reason="not placed: the exchange never received it")
        order.reject(self)
        self.notify(order)

    def _refresh_balances(self) -> None:
        self.balances = self.store.fetch_balance()
        for data, position in self.positions.items():
            position.set(self._balance(self.rules_for(data).base_currency), position.price)

    def _refresh_dead_mans_switch(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now >= self._next_dms:
            self._next_dms = now + self.p.dms_refresh_seconds
            self.store.refresh_dead_mans_switch(self.p.dead_mans_switch_seconds)

    def strategy_books(self, strategy: str) -> dict[str, dict[str, float]]:
        return self.state.strategy_books(strategy)

    @property
    def fees_paid(self) -> float:
        return sum(f.fee for f in self.fills)

    # -- each cerebro loop -------------------------------------------------------------------------------------

    def next(self) -> None:
        now = time.monotonic()
        try:
            self._refresh_dead_mans_switch()
            if now < self._next_sync and not self.tracked:
                return
            self._next_sync = now + self.p.sync_seconds
            for tracked in list(self.tracked.values()):
                self._sync_order(tracked)
            self._refresh_balances()
        except LiveError as exc:  # the exchange is unreachable for now: try again next loop
            log.warning("syncing with the exchange failed: %s", exc)
            return
        self._watch_daily_loss()

    def _watch_daily_loss(self) -> None:
        stamped = [d for d in self.datas if len(d)]
        if not stamped:
            return
        when: datetime = max(d.datetime.datetime(0) for d in stamped)
        if self.risk.observe_equity(when, self.getvalue()):
            log.error("kill switch: equity %.2f fell more than %s%% below the day's start %.2f; cancelling and "
                      "selling everything", self.getvalue(), self.p.risk.max_daily_loss_pct,
                      self.risk.day_start_equity,
                      extra=event_extra("kill_switch", equity=round(self.getvalue(), 2), mode="live",
                                        limit_pct=self.p.risk.max_daily_loss_pct, bar=when.isoformat(),
                                        day_start_equity=round(self.risk.day_start_equity, 2)))
            self.flatten()

    def _record_flatten_fill(self, data, client_id: str, placed: dict) -> None:
        """The kill switch sells outside backtrader's orders; its fills still belong in the results."""
        filled = float(placed.get("filled") or 0.0)
        if filled <= _EPS:
            return
        cost = float(placed.get("cost") or filled * float(placed.get("average") or 0.0))
        fee = float((placed.get("fee") or {}).get("cost") or 0.0)
        price, reference = cost / filled, data.close[0]
        number = self._order_ids.setdefault(client_id, len(self._order_ids) + 1)
        self.fills.append(Fill(data.datetime.datetime(0), data._name, "sell", filled, price, cost, fee,
                               fee / cost if cost else 0.0, "taker", reference, (reference - price) * filled, number))
        log.info("fill %s: sell %s %g at %g, fee %.4f USD (kill switch)", client_id, data._name, filled, price, fee)

    def flatten(self) -> None:
        """Cancel every open order and sell every position at market (the kill switch)."""
        self.store.read(self.store.client.cancel_all_orders)
        for tracked in list(self.tracked.values()):
            self._sync_order(tracked)
        self._refresh_balances()
        for data in self.datas:
            rules = self.rules_for(data)
            size = rules.round_size(self._balance(rules.base_currency, "free"))
            if size < rules.ordermin or not len(data) or size * data.close[0] < rules.costmin:
                continue
            client_id = new_client_order_id()
            self.state.record_intent(client_id, data._name, "sell", "market", size, None, "kill-switch")
            placed = self.store.submit_order(data._name, "sell", "market", size, client_order_id=client_id,
                                             on_send=self.state.set_deadline)
            self.state.update_from_exchange(client_id, placed)
            self._record_flatten_fill(data, client_id, placed)
        self.state.sync_fills(self.store)
        # fills are stamped by the exchange's clock: the books restart after the last one, the kill switch's own
        self.state.mark_flattened(max((f["time"] for f in self.state.fills()), default=0.0))
        self._refresh_balances()
        self.flatten_epoch += 1
