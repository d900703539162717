"""What a running session tells its operator: a heartbeat per live bar, regime and slot changes, the status file.

:class:`SessionMonitor` is a non-trading strategy added last to a session's cerebro (after the plan keeper and
the sleeves, so it sees the bar's final plan and orders). On each bar it updates the session's
:class:`~kraken_global.sessions.status.StatusBoard` (every bar once LIVE; every 100th while replaying history) and,
on live bars, logs one heartbeat line: time, feed status, regime, value, cash, positions and the day's P&L. Order,
fill and rejection lines come from the brokers, which see them first. On live bars it also feeds the dashboard's
:class:`~kraken_global.sessions.journal.SessionJournal` (value, buy-and-hold, regime, fills), lets the capital
ramp observe the bar (:mod:`~kraken_global.sessions.ramp`) and, when a UTC day ends, logs its summary with
``kg_event="daily_summary"`` (an alert when alerts are on).
"""

from __future__ import annotations

import logging
from typing import Any

import backtrader as bt

from kraken_global.alerts import event_extra
from kraken_global.sessions.journal import SessionJournal
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
    """``board``: the status to keep current (None: log only); ``journal``: the dashboard's history; ``ramp``: the
    capital ramp; ``controls``: the operator's controls (their state is published); ``benchmark``: the pair held
    by the buy-and-hold line. :attr:`values`, :attr:`benchmark_values`, :attr:`regimes`: per live bar."""

    params = (("board", None), ("journal", None), ("ramp", None), ("controls", None), ("benchmark", None))
    trades = False

    def __init__(self) -> None:
        self.board: StatusBoard = self.p.board
        self.journal: SessionJournal | None = self.p.journal
        self.benchmark_data = self.getdatabyname(self.p.benchmark) if self.p.benchmark in self.env.datasbyname \
            else None
        self.benchmark_units: float | None = None
        self.benchmark_values: dict = {}
        self.regimes: dict = {}
        self.fills_seen = 0
        self.day_fills = 0
        self.last_value: float | None = None
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
        if hasattr(self.broker, "session_owner"):
            self.broker.session_owner = self  # owns the orders the session places itself (a flatten)

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
                self._day_summary()
                self.day, self.day_start_value = when.date(), value
            self._plan_changes()
            self._record(when, value)
            self._heartbeat(when, value)
            self.last_value = value
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

    def _record(self, when, value: float) -> None:
        """The live bar for the dashboard, the ramp and ``equity.csv``."""
        fills = getattr(self.broker, "fills", [])
        new = fills[self.fills_seen:]
        self.fills_seen = len(fills)
        self.day_fills += len(new)
        bench = self.benchmark_data
        benchmark = None
        if bench is not None and len(bench) and bench.close[0] > 0:
            if self.benchmark_units is None:
                self.benchmark_units = value / bench.close[0]
            benchmark = self.benchmark_units * bench.close[0]
        self.benchmark_values[when] = benchmark
        self.regimes[when] = self.regime
        if self.journal is not None:
            self.journal.benchmark_name = self.p.benchmark if bench is not None else None
            self.journal.add_bar(when, value, benchmark, self.regime)
            self.journal.add_fills(new)
        if self.p.ramp is not None:
            self.p.ramp.observe(when, value, getattr(self.broker, "kill_switch_trips", 0), fills)

    def _day_summary(self) -> None:
        """The UTC day that just ended (the first live day has no summary before its end)."""
        if self.day is None or self.last_value is None:
            return
        pnl = self.last_value - self.day_start_value
        log.info("day %s: value %.2f USD, P&L %+.2f USD, %d fills", self.day, self.last_value, pnl, self.day_fills,
                 extra=event_extra("daily_summary", day=str(self.day), value=round(self.last_value, 2),
                                   day_pnl=round(pnl, 2), fills=self.day_fills,
                                   session_pnl=round(self.last_value - self.session_start_value, 2)))
        self.day_fills = 0

    def _positions(self) -> dict[str, dict[str, float]]:
        held = {}
        for data in self.datas:
            position = self.broker.getposition(data)
            size = position.size
            if abs(size) > 1e-12 and len(data):
                close = data.close[0]
                held[data._name] = {"size": size, "value": size * close, "price": close,
                                    "cost_price": position.price,
                                    "pnl": size * (close - position.price) if position.price else None}
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
        if self.p.controls is not None:
            values["controls"] = self.p.controls.state()
        if self.p.ramp is not None:
            values["ramp"] = self.p.ramp.status()
        if when is not None:
            broker = self.broker
            values.update(
                last_bar=str(when), value=value, cash=broker.getcash(), regime=self.regime,
                positions=self._positions(), open_orders=open_orders(broker),
                fills=len(getattr(broker, "fills", [])), rejections=len(getattr(broker, "rejections", [])),
                day_pnl=None if self.day_start_value is None else value - self.day_start_value,
                session_pnl=None if self.session_start_value is None else value - self.session_start_value)
        self.board.update(**values)
