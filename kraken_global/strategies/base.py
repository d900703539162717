"""What every kraken-global strategy shares: the downtime schedule, late-joining pairs, order bookkeeping.

- The schedule's boundaries are backtrader timers (``add_timer``), so strategies that override
  ``on_schedule(state, when)`` get it at the first bar at or after each boundary (03:00 downtime, 05:00 trading,
  the transition before); boundaries skipped over (at the first bar, or after an outage) are not replayed. The
  current state is always :meth:`trading_state`, from the same pure function the broker checks.
- Pairs whose history starts later than others join when their first bar arrives: ``prenext`` runs
  ``next`` and :meth:`ready_datas` lists the pairs with enough bars.
- One open order per pair at a time, tracked in ``self.open_orders``; rejections are counted with reasons.
- Live feeds first replay history (status DELAYED): indicators and regimes warm up on it, but no order may be
  placed on a replayed bar (its prices are gone), so :meth:`can_open` and :meth:`can_reduce` are False until
  every feed reports LIVE. Backtest feeds send no status, so this never applies to them.
- **Lean bars** (profile-driven; see ``bench/README.md``). backtrader advances every indicator object of every
  strategy on every bar, even in runonce mode where their values were all computed beforehand by ``once``. After
  that pass a KrakenStrategy takes its indicators out of the per-bar loop and reads them by bar index with
  :meth:`now`; in next mode (live) they advance as usual and :meth:`now` reads the same value. Portfolio-wide
  analyzers (value, drawdown, exposure, benchmark: one portfolio however many strategies share the broker) are
  attached to the first trading strategy only.
"""

from __future__ import annotations

import math
from collections import Counter

import backtrader as bt
from backtrader.lineiterator import LineIterator

from kraken_global.schedule import DowntimeSchedule, TradingState


class OnePortfolio:
    """Strategy mixin: analyzers marked ``portfolio_wide`` are attached to the portfolio's first trading strategy
    only (``trades = False`` marks helpers such as the plan keeper); the others would record the same figures."""

    trades = True

    def _addanalyzer(self, ancls, *args, **kwargs) -> None:
        if getattr(ancls, "portfolio_wide", False) and self is not portfolio_owner(self.env.runningstrats):
            return
        super()._addanalyzer(ancls, *args, **kwargs)


def portfolio_owner(strategies: list):
    """The strategy that carries the portfolio-wide analyzers: the first one that trades."""
    return next((s for s in strategies if getattr(s, "trades", True)), strategies[0] if strategies else None)


class KrakenStrategy(OnePortfolio, bt.Strategy):
    """Base class; subclasses implement ``next`` and may override ``on_schedule``."""

    params = (("schedule", None), ("trade_from", None))  # trade_from: no orders before it (warm-up)
    indicators_by_index = False  # True: the subclass reads indicators with ``now()`` only (see "Lean bars")

    def __init__(self) -> None:
        broker_schedule = getattr(self.broker.p, "schedule", None)
        self.schedule: DowntimeSchedule = self.p.schedule or broker_schedule or DowntimeSchedule()
        self.open_orders: dict = {}
        self.rejection_reasons: Counter = Counter()
        self.schedule_events: list[tuple] = []
        self.replaying: set = set()
        if type(self).on_schedule is not KrakenStrategy.on_schedule:  # timers cost every bar: only for listeners
            for when, state in self.schedule.boundaries():
                self.add_timer(when=when, state=state)
        self._bar_lines = {d: d.lines.datetime for d in self.datas}
        self._all_started = False

    # -- lean bars ------------------------------------------------------------------------------------------

    def _once(self) -> None:
        super()._once()
        if not self.indicators_by_index:
            return
        # every bar's indicator values are in the line arrays now: read them by index, advance nothing per bar;
        # ``indicator[0]`` would read a stale bar, so it is made to fail loudly instead
        for indicator in self._lineiterators[LineIterator.IndType]:
            _detach(indicator)
        self._lineiterators[LineIterator.IndType] = []

    def _getminperstatus(self) -> int:
        # data lengths never shrink: once every data is past its minimum period it stays past, and backtrader's
        # len() over every data on every bar is skipped from then on
        if self._all_started:
            return -1
        status = super()._getminperstatus()
        self._all_started = status < 0
        return status

    def bars(self, data) -> int:
        """How many bars of ``data`` have been seen (``len(data)`` without backtrader's call chain)."""
        return self._bar_lines[data].idx + 1

    def now(self, indicator, data) -> float:
        """``indicator``'s (first line's) value at the current bar of ``data``, the data it was computed on (NaN
        before that data's first bar: index -1 would read the last bar, a lookahead)."""
        i = self._bar_lines[data].idx
        return indicator.lines[0].array[i] if i >= 0 else math.nan

    @classmethod
    def warmup_bars(cls, **params) -> int:
        """Bars of history the strategy needs before it can act with ``params`` (runners check the data)."""
        return 1

    def trading_state(self) -> TradingState:
        return self.schedule.state_at(self.datetime.datetime(0))

    def warming_up(self) -> bool:
        """True before ``trade_from``: the run loads this history only so indicators and regimes are ready."""
        return self.p.trade_from is not None and self.datetime.datetime(0) < self.p.trade_from

    def can_open(self) -> bool:
        return not self.replaying and not self.warming_up() and self.trading_state() is TradingState.TRADING

    def can_reduce(self) -> bool:
        return not self.replaying and not self.warming_up() and self.trading_state() is not TradingState.DOWNTIME

    def notify_data(self, data, status, *args, **kwargs) -> None:
        if status == data.DELAYED:
            self.replaying.add(data)
        elif status == data.LIVE:
            self.replaying.discard(data)

    def notify_timer(self, timer, when, state: TradingState) -> None:
        # backtrader fires every boundary already passed at the first bar (and after an outage): keep only the
        # one whose state is the state now, so a run never starts with a spurious "downtime began"
        if self.schedule.state_at(self._data_now()) is not state:
            return
        self.schedule_events.append((when, state))
        self.on_schedule(state, when)

    def _data_now(self):
        """The latest bar time among the feeds (the strategy clock lags the feeds when timers fire)."""
        return bt.num2date(max(d.datetime[0] for d in self.datas if len(d)))

    def on_schedule(self, state: TradingState, when) -> None:
        """Hook: the schedule entered ``state`` at ``when`` (e.g. retrain at DOWNTIME).

        In runonce mode timers fire before the strategy's own clock moves, so use ``when``, not
        ``self.datetime``, here.
        """

    def prenext(self) -> None:
        self.next()

    def ready_datas(self, min_bars: int = 1) -> list:
        return [d for d in self.datas if len(d) >= min_bars]

    def notify_order(self, order) -> None:
        if order.status == order.Rejected:
            reason = order.info.get("reject_reason") or "rejected"
            self.rejection_reasons[reason.split(":")[0]] += 1
        tracked = self.open_orders.get(order.data)
        if not order.alive() and tracked is not None and tracked.ref == order.ref:
            del self.open_orders[order.data]

    def has_open_order(self, data) -> bool:
        return data in self.open_orders

    def track(self, order) -> None:
        if order is not None and order.alive():
            self.open_orders[order.data] = order


_DETACHED = 2**62  # an index past any array: ``line[0]`` raises IndexError instead of reading a stale bar


def _detach(indicator) -> None:
    if not isinstance(indicator, LineIterator):
        return  # a line operation (``data.high(-1)``): an input of an indicator, never read by a strategy
    for line in indicator.lines:
        line.idx = _DETACHED
    for child in indicator._lineiterators[LineIterator.IndType]:
        _detach(child)
