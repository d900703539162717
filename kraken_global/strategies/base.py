"""What every kraken-global strategy shares: the downtime schedule, late-joining pairs, order bookkeeping.

- The schedule's boundaries are backtrader timers (``add_timer``), so strategies get ``on_schedule(state,
  when)`` at the first bar at or after each boundary (03:00 downtime, 05:00 trading, the transition before);
  boundaries skipped over (at the first bar, or after an outage) are not replayed. The current state is
  always :meth:`trading_state`, from the same pure function the broker checks.
- Pairs whose history starts later than others join when their first bar arrives: ``prenext`` runs
  ``next`` and :meth:`ready_datas` lists the pairs with enough bars.
- One open order per pair at a time, tracked in ``self.open_orders``; rejections are counted with reasons.
- Live feeds first replay history (status DELAYED): indicators and regimes warm up on it, but no order may be
  placed on a replayed bar (its prices are gone), so :meth:`can_open` and :meth:`can_reduce` are False until
  every feed reports LIVE. Backtest feeds send no status, so this never applies to them.
"""

from __future__ import annotations

from collections import Counter

import backtrader as bt

from kraken_global.schedule import DowntimeSchedule, TradingState


class KrakenStrategy(bt.Strategy):
    """Base class; subclasses implement ``next`` and may override ``on_schedule``."""

    params = (("schedule", None),)

    def __init__(self) -> None:
        broker_schedule = getattr(self.broker.p, "schedule", None)
        self.schedule: DowntimeSchedule = self.p.schedule or broker_schedule or DowntimeSchedule()
        self.open_orders: dict = {}
        self.rejection_reasons: Counter = Counter()
        self.schedule_events: list[tuple] = []
        self.replaying: set = set()
        for when, state in self.schedule.boundaries():
            self.add_timer(when=when, state=state)

    @classmethod
    def warmup_bars(cls, **params) -> int:
        """Bars of history the strategy needs before it can act with ``params`` (runners check the data)."""
        return 1

    def trading_state(self) -> TradingState:
        return self.schedule.state_at(self.datetime.datetime(0))

    def can_open(self) -> bool:
        return not self.replaying and self.trading_state() is TradingState.TRADING

    def can_reduce(self) -> bool:
        return not self.replaying and self.trading_state() is not TradingState.DOWNTIME

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
        return max(d.datetime.datetime(0) for d in self.datas if len(d))

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
