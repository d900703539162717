"""The brokers of a session: the paper or the live broker with the session's own rules on top.

:class:`SessionRules` (a mixin over either broker) adds what an operator and the capital ramp decide:

- a buy is refused while the operator has paused entries (``entries paused``), or while the registry no longer
  approves the model or the configuration the session trades (:mod:`kraken_global.sessions.approval_watch`);
- a buy is cut to fit, or refused when nothing fits, the capital cap: the bot's own exposure (its positions at
  the last close plus its open buys) may not exceed what the ramp allows (:mod:`kraken_global.sessions.ramp`);
- a flatten the operator asked for runs at the broker's next loop, through the broker's own :meth:`flatten` (the
  kill switch's path); kill-switch trips are counted for the ramp.

:class:`SessionPaperBroker` also gives paper sessions the live broker's daily-loss kill switch
(``live.risk.max_daily_loss_pct``): a paper session rehearses live, so it trips, alerts and flattens the same way.
Backtests keep the plain paper broker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kraken_global.events import event_extra
from kraken_global.live.broker import KrakenLiveBroker
from kraken_global.live.errors import LiveError
from kraken_global.live.risk import RiskGuard
from kraken_global.paper_broker import KrakenPaperBroker

log = logging.getLogger(__name__)


class SessionRules:
    """Mixin: put it before the broker class (``class B(SessionRules, KrakenPaperBroker)``)."""

    controls = None  # SessionControls: the operator's pause and flatten
    approval_watch = None  # ApprovalWatch: withdraws entries when the registry no longer approves what is traded
    capital_cap: Callable[[float], float | None] | None = None  # value -> USD the bot may hold; None: no cap
    session_owner = None  # the strategy that owns orders the session places itself (flatten), set at start
    kill_switch_trips = 0

    # -- entries -------------------------------------------------------------------------------------------

    def buy(self, owner, data, size, price=None, plimit=None, **kwargs):
        cap = self.capital_cap(self.getvalue()) if self.capital_cap is not None else None
        if cap is not None and len(data):
            unit = price or data.close[0]
            room = self.rules_for(data).round_size(max(cap - self.bot_exposure(), 0.0) / unit)
            if 0 < room < abs(size):  # no room at all: the order goes on to be refused with the reason
                size = room
        return super().buy(owner, data, size, price, plimit, **kwargs)

    def _check(self, order) -> str | None:
        if order.isbuy():
            if self.controls is not None and self.controls.paused:
                return "entries paused by the operator (dashboard): exits and reductions only"
            withdrawn = self.approval_watch.reason if self.approval_watch is not None else None  # read once
            if withdrawn is not None:
                return f"approval withdrawn: {withdrawn}; exits and reductions only"
            cap = self.capital_cap(self.getvalue()) if self.capital_cap is not None else None
            if cap is not None and len(order.data):
                notional = abs(order.size) * (order.created.price or order.data.close[0])
                exposure = self.bot_exposure(excluding=order)
                if exposure + notional > cap * (1 + 1e-9):
                    return (f"capital cap: the bot's exposure {exposure:.2f} USD + {notional:.2f} would exceed "
                            f"{cap:.2f} USD (live.capital)")
        return super()._check(order)

    def bot_exposure(self, excluding=None) -> float:
        """USD in the bot's positions at their last close, plus its open buys at their price."""
        held = sum(p.size * d.close[0] for d, p in self.positions.items() if p.size > 0 and len(d))
        buying = sum(abs(o.executed.remsize) * (o.created.price or o.data.close[0])
                     for o in self._open_buys() if o is not excluding)
        return held + buying

    def _open_buys(self) -> list:
        if isinstance(self, KrakenLiveBroker):
            return [t.order for t in self.tracked.values() if t.order.isbuy() and t.order.alive()]
        return [o for o in self.pending if o is not None and o.alive() and o.isbuy()]

    # -- each loop -------------------------------------------------------------------------------------------

    def next(self) -> None:
        if self.controls is not None and self.controls.take_flatten():
            log.warning("flatten (dashboard): cancelling the bot's open orders and selling its positions")
            try:
                self.flatten()
            except LiveError as exc:  # the exchange did not answer: say so; the operator may flatten again
                self.controls.failed = f"flatten failed: {exc}; entries stay paused, flatten again"
                log.error("flatten (dashboard) failed: %s; entries stay paused; flatten again from the dashboard",
                          exc)
            else:
                self.controls.flattened += 1
                self.controls.failed = None
        super().next()

    def _watch_daily_loss(self) -> None:
        was = self.risk.killed
        super()._watch_daily_loss()  # the broker's kill switch
        if self.risk.killed and not was:
            self.kill_switch_trips += 1


class PaperKillSwitch(KrakenPaperBroker):
    """:class:`KrakenPaperBroker`'s fills plus the live broker's daily-loss kill switch and its flatten."""

    params = (("risk", None),)  # RiskLimits; only its daily-loss kill switch applies to paper
    session_owner = None  # the strategy whose datas it watches and that owns its flatten orders

    def __init__(self) -> None:
        super().__init__()
        self.risk = RiskGuard(self.p.risk) if self.p.risk is not None else None
        self.flatten_epoch = 0

    def _check(self, order) -> str | None:
        if self.risk is not None and self.risk.killed and order.isbuy():
            return (f"kill switch: equity fell more than {self.risk.limits.max_daily_loss_pct}% today; only "
                    "reductions")
        return super()._check(order)

    def next(self) -> None:
        super().next()
        if self.risk is not None:
            self._watch_daily_loss()

    def _watch_daily_loss(self) -> None:
        datas = [d for d in getattr(self.session_owner, "datas", ()) if len(d)]
        if not datas:
            return
        when = max(d.datetime.datetime(0) for d in datas)
        value = self.getvalue()
        if self.risk.observe_equity(when, value):
            limit = self.risk.limits.max_daily_loss_pct
            log.error("kill switch: equity %.2f fell more than %s%% below the day's start %.2f; cancelling and "
                      "selling everything", value, limit, self.risk.day_start_equity,
                      extra=event_extra("kill_switch", equity=round(value, 2), limit_pct=limit,
                                        day_start_equity=round(self.risk.day_start_equity, 2), mode="paper",
                                        bar=when.isoformat()))
            self.flatten()

    def flatten(self) -> None:
        """Cancel every open order and sell every position at market (filled at the next bar, as any market
        order in paper); the sleeves follow ``flatten_epoch`` as they do after the live kill switch."""
        for order in [o for o in self.pending if o is not None and o.alive()]:
            self.cancel(order)
        for data, position in list(self.positions.items()):
            rules = self.rules_for(data)
            size = rules.round_size(position.size)
            if not len(data) or size < rules.ordermin or size * data.close[0] < rules.costmin:
                continue
            self.sell(self.session_owner, data, size)
        self.flatten_epoch += 1


class SessionPaperBroker(SessionRules, PaperKillSwitch):
    """The paper broker of a session."""


class SessionLiveBroker(SessionRules, KrakenLiveBroker):
    """The live broker of a session."""
