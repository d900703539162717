"""The daily-loss kill switch: when the bot's equity falls ``max_daily_loss_pct`` below the UTC day's start, it
cancels the bot's open orders and sells, at market, the units the bot's own fills built (never the coins that
were on the account before, never another party's orders), then accepts only reductions until the next UTC day
(:class:`~kraken_global.live.risk.RiskGuard`). A mixin of :class:`KrakenLiveBroker`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from kraken_global.events import emit
from kraken_global.live.errors import LiveError, OrderNotPlaced
from kraken_global.live.ownership import split_open_orders
from kraken_global.live.store import new_client_order_id
from kraken_global.order_reasons import KILL_SWITCH, NO_REGIME, PORTFOLIO

log = logging.getLogger("kraken_global.live.broker")
_EPS = 1e-12


class KillSwitch:
    """Needs the broker's ``store``, ``state``, ``risk``, ``datas``, ``tracked``, ``orphans`` and its fill and sync
    methods."""

    def _watch_daily_loss(self) -> None:
        stamped = [d for d in self.datas if len(d)]
        if not stamped:
            return
        when: datetime = max(d.datetime.datetime(0) for d in stamped)
        if self.risk.observe_equity(when, self.getvalue()):
            emit(log, logging.ERROR, "kill_switch", "kill switch: equity %.2f fell more than %s%% below the day's "
                 "start %.2f; cancelling the bot's orders and selling its positions", self.getvalue(),
                 self.p.risk.max_daily_loss_pct, self.risk.day_start_equity, equity=round(self.getvalue(), 2),
                 day_start_equity=round(self.risk.day_start_equity, 2),
                 max_daily_loss_pct=self.p.risk.max_daily_loss_pct)
            self.flatten()

    def flatten(self) -> None:
        """Cancel the bot's open orders and sell the units its own fills built, at market (the kill switch)."""
        ours, _ = split_open_orders(self.store.fetch_open_orders(), self.state.client_ids())
        for order in ours:
            self.store.cancel_if_open(order["id"])  # one that closed meanwhile: its fills are read below
        for tracked in list(self.tracked.values()):
            self._sync_order(tracked)
        self._take_new_fills()
        self._refresh_balances()
        for data in self.datas:
            rules = self.rules_for(data)
            size = rules.round_size(self._units(data, "free"))
            if size < rules.ordermin or not len(data) or size * data.close[0] < rules.costmin:
                continue
            client_id = new_client_order_id()
            self.state.record_intent(client_id, data._name, "sell", "market", size, None, "kill-switch", NO_REGIME,
                                     KILL_SWITCH)
            try:
                placed = self.store.submit_order(data._name, "sell", "market", size, client_order_id=client_id,
                                                 on_send=self.state.set_deadline)
            except OrderNotPlaced as exc:
                self.state.mark(client_id, "not_placed")
                log.error("kill switch: selling %s %g was not placed (%s)", data._name, size, exc.reason)
                continue
            except LiveError as exc:
                self.state.mark(client_id, "unknown")
                self.orphans[client_id] = self.state.order(client_id)
                emit(log, logging.ERROR, "order_unknown", "kill switch: selling %s %g: %s", data._name, size, exc,
                     pair=data._name, cl_ord_id=client_id, side="sell", reason=str(exc))
                continue
            self.state.update_from_exchange(client_id, placed)
            filled = float(placed.get("filled") or 0.0)
            if filled > _EPS:
                cost = float(placed.get("cost") or filled * float(placed.get("average") or 0.0))
                number = self._order_ids.setdefault(client_id, len(self._order_ids) + 1)
                self._record_fill(data, client_id, "sell", filled, cost / filled,
                                  float((placed.get("fee") or {}).get("cost") or 0.0), "taker", data.close[0], number,
                                  (PORTFOLIO, NO_REGIME, KILL_SWITCH))
        self.state.sync_fills(self.store)
        self._take_new_fills()
        # fills are stamped by the exchange's clock: the books restart after the last one, the kill switch's own
        self.state.mark_flattened(max((f["time"] for f in self.state.fills()), default=0.0))
        self._refresh_balances()
        self.flatten_epoch += 1
