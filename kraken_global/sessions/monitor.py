"""What a running session tells its operator: a heartbeat per live bar, regime and slot changes, the status file.

:class:`SessionMonitor` is a non-trading strategy added last to a session's cerebro (after the plan keeper and
the sleeves, so it sees the bar's final plan and orders). On each bar it updates the session's
:class:`~kraken_global.sessions.status.StatusBoard` (every bar once LIVE; every 100th while replaying history) and,
on live bars, logs one heartbeat line: time, feed status, regime, value, cash, positions and the day's P&L. Order,
fill and rejection lines come from the brokers, which see them first.
"""

from __future__ import annotations

import logging
from typing import Any

import backtrader as bt

from kraken_global.sessions.status import StatusBoard
from kraken_global.strategies.base import OnePortfolio

log = logging.getLogger("kraken_global.session")
REPLAY_EVERY = 100


def open_orders(broker) -> list[dict[str, Any]]:
    """The broker's live orders: the live broker's tracked ones (client id), else the paper broker's (number)."""
    if hasattr(broker, "tracked"):
        orders = [(t.order, t.client_id) for t in broker.tracked.values()]
    else:
        orders = [(o, f"paper-{broker.order_id(o)}") for o in getattr(broker, "orders", []) if o.alive()]
    return [{"id": ident, "symbol": o.data._name, "side": "buy" if o.isbuy() else "sell",
             "size": abs(o.size), "status": o.getstatusname()} for o, ident in orders]


class SessionMonitor(OnePortfolio, bt.Strategy):
    """``board``: the status to keep current (None: log only). :attr:`values`: portfolio value per live bar."""

    params = (("board", None),)
    trades = False

    def __init__(self) -> None:
        self.board: StatusBoard = self.p.board
        self.feed = "DELAYED"
        self.link = "ok"
        self.live_bars = 0
        self.day = None
        self.day_start_value = None
        self.session_start_value = None
        self.regime: str | None = None
        self.slots: tuple = ()
        self.values: dict = {}
        self.keeper = None

    def notify_data(self, data, status, *args, **kwargs) -> None:
        name = data._getstatusname(status)
        if data is not self.datas[0]:
            return
        self.link = "DOWN (polls fail; retrying)" if name == "DISCONNECTED" else "ok"
        if name != "DISCONNECTED":
            self.feed = name
        self._publish()

    def start(self) -> None:
        self.keeper = next((s for s in self.env.runningstrats if hasattr(s, "detector") and hasattr(s, "rows")), None)

    def prenext(self) -> None:
        self.next()

    def next(self) -> None:
        live = self.feed == "LIVE"
        value = self.broker.getvalue()
        when = max(d.datetime.datetime(0) for d in self.datas if len(d))
        if live:
            self.live_bars += 1
            self.values[when] = value
            if self.session_start_value is None:
                self.session_start_value = value
            if self.day != when.date():
                self.day, self.day_start_value = when.date(), value
            self._plan_changes()
            self._heartbeat(when, value)
        if live or len(self) % REPLAY_EVERY == 0:
            self._publish(when, value)

    def _plan_changes(self) -> None:
        keeper = self.keeper
        if keeper is None or not keeper.rows:
            return
        row = keeper.rows[-1]
        if row["regime"] != self.regime:
            log.info("regime %s -> %s", self.regime or "(start)", row["regime"])
            self.regime = row["regime"]
        slots = tuple((k, v) for k, v in row.items() if k not in ("datetime", "regime") and v > 0)
        if slots != self.slots:
            log.info("slots: %s", ", ".join(f"{k} {v:.2f}" for k, v in slots) or "none (all cash)")
            self.slots = slots

    def _positions(self) -> dict[str, dict[str, float]]:
        held = {}
        for data in self.datas:
            size = self.broker.getposition(data).size
            if abs(size) > 1e-12 and len(data):
                held[data._name] = {"size": size, "value": size * data.close[0]}
        return held

    def _heartbeat(self, when, value: float) -> None:
        positions = self._positions()
        log.info("bar %s %s regime %s value %.2f cash %.2f day P&L %+.2f positions %s", when, self.feed,
                 self.regime or "-", value, self.broker.getcash(), value - self.day_start_value,
                 ", ".join(f"{s} {p['size']:g}" for s, p in positions.items()) or "none")

    def _publish(self, when=None, value: float | None = None) -> None:
        if self.board is None:
            return
        values: dict[str, Any] = {"feed": self.feed, "link": self.link, "live_bars": self.live_bars}
        if when is not None:
            broker = self.broker
            values.update(
                last_bar=str(when), value=value, cash=broker.getcash(), regime=self.regime,
                positions=self._positions(), open_orders=open_orders(broker),
                unsettled_orders=broker.unsettled() if hasattr(broker, "unsettled") else [],
                fills=len(getattr(broker, "fills", [])), rejections=len(getattr(broker, "rejections", [])),
                day_pnl=None if self.day_start_value is None else value - self.day_start_value,
                session_pnl=None if self.session_start_value is None else value - self.session_start_value)
        self.board.update(**values)
