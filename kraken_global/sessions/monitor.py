"""What a running session tells its operator: a heartbeat per live bar, how late bars are handled, the status file.

:class:`SessionMonitor` is a non-trading strategy added last to a session's cerebro (after the plan keeper and
the sleeves, so it sees the bar's final plan and orders). On each bar it updates the session's
:class:`~kraken_global.sessions.status.StatusBoard` (every bar once LIVE; every 100th while replaying history) and,
on live bars, logs one heartbeat line: time, feed status, regime, value, cash, positions and the day's P&L. Order,
fill and rejection lines come from the brokers, which see them first; regime and slot changes from the plan
keeper, the first strategy of each bar, so a bar's lines read in order: its fills (at the bar's open), its regime,
its orders, its heartbeat.

**Falling behind**: a live bar handled more than one bar after it closed (see ``KrakenLiveFeed.late_seconds``) is
a warning, logged with ``kg_event="falling_behind"`` and ``kg_fields={"late_seconds", "bar"}`` as extra attributes
of the record (for alert sinks), again each time it grows by another bar, and in the status (``late_seconds``).

The status also carries the round-trip ledger of the session so far (``trading``, ``by_pair``, ``by_strategy``;
see :mod:`kraken_global.ledger`), and :attr:`closes` keeps each live bar's closes for the session's breakdowns.
"""

from __future__ import annotations

import logging
from typing import Any

import backtrader as bt

from kraken_global.ledger import build_ledger, group_trips, pnl_summary
from kraken_global.sessions.status import StatusBoard
from kraken_global.strategies.base import OnePortfolio

log = logging.getLogger("kraken_global.session")
REPLAY_EVERY = 100
FALLING_BEHIND = "falling_behind"


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
        self.values: dict = {}
        self.closes: dict = {}
        self.keeper = None
        self.late_seconds = 0.0
        self.max_late_seconds = 0.0
        self.falling_behind = False
        self._warned_late = 0.0

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
            self.closes[when] = {d._name: d.close[0] for d in self.datas if len(d)}
            if self.session_start_value is None:
                self.session_start_value = value
            if self.day != when.date():
                self.day, self.day_start_value = when.date(), value
            self._follow_plan()
            self._watch_lateness(when)
            self._heartbeat(when, value)
        if live or len(self) % REPLAY_EVERY == 0:
            self._publish(when, value)

    def _follow_plan(self) -> None:
        """The bar's regime, from the plan keeper (which logs its changes)."""
        if self.keeper is not None and self.keeper.rows:
            self.regime = self.keeper.rows[-1]["regime"]

    def _watch_lateness(self, when) -> None:
        feed = self.datas[0]
        bar = getattr(feed, "bar", None)
        late = float(getattr(feed, "late_seconds", 0.0))
        self.late_seconds, self.max_late_seconds = late, max(self.max_late_seconds, late)
        if bar is None:
            return
        step = bar.total_seconds()
        self.falling_behind = late > step
        if late > step and late >= self._warned_late + step:
            self._warned_late = late
            log.warning("falling behind: bar %s handled %s after it closed (the exchange is at %s); its orders "
                        "fill that much later than the bar they were decided on (after a long warm-up this is the "
                        "backlog of candles that closed meanwhile; if it lasts: poll more often, a faster machine, "
                        "or against the emulator a lower --speed)", when, _duration(late),
                        feed.poller.market_now, extra={"kg_event": FALLING_BEHIND,
                                                       "kg_fields": {"late_seconds": late, "bar": str(when)}})
        elif late <= step and self._warned_late:
            log.info("caught up: bar %s handled within a bar of its close", when)
            self._warned_late = 0.0

    def ledger_status(self) -> dict[str, Any]:
        """The session's round trips so far, valued at the current closes: totals, by pair and by strategy."""
        marks = {d._name: d.close[0] for d in self.datas if len(d)}
        ledger = build_ledger(getattr(self.broker, "fills", []), marks)

        def brief(trips) -> dict[str, Any]:
            summary = pnl_summary(trips)
            return {k: summary[k] for k in ("round_trips", "open_round_trips", "win_rate_pct", "closed_pnl",
                                            "open_pnl", "fees", "net_pnl")}

        return {"trading": brief(ledger.trips),
                "by_pair": {k: brief(v) for k, v in group_trips(ledger.trips, lambda t: t.symbol).items()},
                "by_strategy": {k: brief(v) for k, v in group_trips(ledger.trips, lambda t: t.strategy).items()}}

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
                fills=len(getattr(broker, "fills", [])), rejections=len(getattr(broker, "rejections", [])),
                day_pnl=None if self.day_start_value is None else value - self.day_start_value,
                session_pnl=None if self.session_start_value is None else value - self.session_start_value,
                late_seconds=self.late_seconds, max_late_seconds=self.max_late_seconds,
                falling_behind=self.falling_behind, **self.ledger_status())
        self.board.update(**values)


def _duration(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours >= 1 else f"{seconds / 60:.0f} min"
