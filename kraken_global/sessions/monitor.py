"""What a running session tells its operator: a heartbeat per live bar, how late bars are handled, the status file.

:class:`SessionMonitor` is a non-trading strategy added last to a session's cerebro (after the plan keeper and
the sleeves, so it sees the bar's final plan and orders). On each bar it updates the session's
:class:`~kraken_global.sessions.status.StatusBoard` (every bar once LIVE; every 100th while replaying history) and,
on live bars, logs one heartbeat line: time, feed status, regime, value, cash, positions and the day's P&L. Order,
fill and rejection lines come from the brokers, which see them first; regime and slot changes from the plan
keeper, the first strategy of each bar, so a bar's lines read in order: its fills (at the bar's open), its regime,
its orders, its heartbeat. On live bars it also feeds the dashboard's
:class:`~kraken_global.sessions.journal.SessionJournal` (value, buy-and-hold, regime, fills), lets the capital
ramp observe the bar (:mod:`~kraken_global.sessions.ramp`) and, when a UTC day ends, logs its summary with
``kg_event="daily_summary"`` (an alert when alerts are on).

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

from kraken_global.events import event_extra
from kraken_global.ledger import build_ledger, group_trips, pnl_summary
from kraken_global.sessions.journal import SessionJournal
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
    """``board``: the status to keep current (None: log only); ``journal``: the dashboard's history; ``ramp``: the
    capital ramp; ``controls``: the operator's controls and ``approval``: the session's approval watch (their states
    are published); ``benchmark``: the pair held
    by the buy-and-hold line; ``on_live_bar(when)``: called after each live bar (the registry signs the session's
    live bars with it); ``session_start``: the exchange's time at start (a bar closed after it is the session's,
    even when it came before the feed went LIVE). :attr:`values`, :attr:`benchmark_values`, :attr:`regimes`: per
    live bar."""

    params = (("board", None), ("journal", None), ("ramp", None), ("controls", None), ("approval", None),
              ("benchmark", None), ("on_live_bar", None), ("session_start", None))
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
        if hasattr(self.broker, "session_owner"):
            self.broker.session_owner = self  # owns the orders the session places itself (a flatten)

    def prenext(self) -> None:
        self.next()

    def next(self) -> None:
        value = self.broker.getvalue()
        when = max(d.datetime.datetime(0) for d in self.datas if len(d))
        # a session bar: the feed is LIVE, or the bar closed after the session started and came with the warm-up's
        # last poll (the figures, from the analyzers, count it: equity.csv and the ramp must count the same bars)
        start = self.p.session_start
        live = self.feed == "LIVE" or (start is not None and when > start)
        if live:
            self.live_bars += 1
            self.values[when] = value
            self.closes[when] = {d._name: d.close[0] for d in self.datas if len(d)}
            if self.session_start_value is None:
                self.session_start_value = value
            if self.day != when.date():
                self._day_summary()
                self.day, self.day_start_value = when.date(), value
            self._follow_plan()
            self._record(when, value)
            self._watch_lateness(when)
            self._heartbeat(when, value)
            self.last_value = value
            if self.p.on_live_bar is not None:
                self.p.on_live_bar(when)
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
                        feed.poller.market_now, extra=event_extra(FALLING_BEHIND, late_seconds=late, bar=str(when)))
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
        if self.p.approval is not None:
            values["approval"] = self.p.approval.state()
        if self.p.ramp is not None:
            values["ramp"] = self.p.ramp.status()
        if when is not None:
            broker = self.broker
            values.update(
                last_bar=str(when), value=value, cash=broker.getcash(), regime=self.regime,
                positions=self._positions(), open_orders=open_orders(broker),
                unsettled_orders=broker.unsettled() if hasattr(broker, "unsettled") else [],
                fills=len(getattr(broker, "fills", [])), rejections=len(getattr(broker, "rejections", [])),
                day_pnl=None if self.day_start_value is None else value - self.day_start_value,
                session_pnl=None if self.session_start_value is None else value - self.session_start_value,
                late_seconds=self.late_seconds, max_late_seconds=self.max_late_seconds,
                falling_behind=self.falling_behind, **self.ledger_status())
        self.board.update(**values)


def _duration(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours >= 1 else f"{seconds / 60:.0f} min"
