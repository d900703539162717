"""Orders the trading loop no longer owns, and what they bring: an earlier run's orders that the reconciliation left
unsettled or open, and copies of orders proven absent that Kraken shows late.

No strategy is waiting for these any more (an earlier process placed them, or the strategy was told "not placed"
and decided again), so one left resting is cancelled, and their fills, once Kraken shows them, go into the results
and, as *late fills*, into the books of the strategies that placed them (:meth:`take_late_fills`), so that their
next decision starts from the position the account really has. A mixin of :class:`KrakenLiveBroker`.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from kraken_global.live.ownership import client_id_of, split_open_orders
from kraken_global.order_reasons import NO_REGIME, PORTFOLIO, UNSPECIFIED

log = logging.getLogger("kraken_global.live.broker")
LATE_COPY_SCAN_SECONDS = 30.0  # how often open orders are scanned for late copies while an intent is watched


class Leftovers:
    """Needs the broker's ``store``, ``state``, ``tracked``, ``datas``, ``reconciliation`` and ``_record_fill``."""

    def _init_leftovers(self) -> None:
        self.orphans: dict[str, dict] = {}  # earlier runs' orders still unknown or open: no strategy owns them
        self.late_fills: dict[str, list[tuple[str, float, float, float]]] = defaultdict(list)
        self._next_scan = 0.0

    def take_late_fills(self, strategy: str) -> list[tuple[str, float, float, float]]:
        """Fills of ``strategy``'s orders that Kraken showed only after the order was settled without them (a late
        copy adopted, an earlier run's order): (symbol, signed size, price, fee) for the strategy's books."""
        return self.late_fills.pop(strategy, [])

    def _take_over_leftovers(self, ours: list[dict]) -> None:
        """At start: cancel the bot's orders an earlier run left open (``ours``), and watch the orders the
        reconciliation could not settle (their pairs take no new order until Kraken's records settle them)."""
        for order in ours:
            self._cancel_leftover(client_id_of(order), order["id"])
        if ours:
            self.state.reconcile(self.store)
        for row in self.state.unsettled_orders():
            self.orphans[row["client_id"]] = row

    def _cancel_leftover(self, client_id: str, txid: str) -> None:
        if self.store.cancel_if_open(txid):
            self.reconciliation.append(f"{client_id}: left open by an earlier run, cancelled")
        else:  # it filled or was cancelled meanwhile: its fills are read by the reconciliation
            self.reconciliation.append(f"{client_id}: left open by an earlier run, closed before it was cancelled")

    def _sync_orphans(self) -> None:
        """Earlier runs' orders the reconciliation could not settle or find closed: settle them, cancel any left
        open (no strategy owns them any more), and hand their fills to the strategies that placed them."""
        for client_id, row in list(self.orphans.items()):
            if row.get("txid"):
                found = self.store.fetch_order(row["txid"])
                self.state.update_from_exchange(client_id, found)
            else:
                outcome = self.store.lookup(client_id, row["symbol"], row["side"], row.get("deadline"))
                line = self.state.settle(client_id, outcome)
                if outcome.status == "unknown":
                    continue
                self.reconciliation.append(line)
                found = outcome.order
            if found is not None and found["status"] == "open":
                self._cancel_leftover(client_id, found["id"])
                found = self.store.fetch_order(found["id"])
                self.state.update_from_exchange(client_id, found)
            if found is None or found["status"] != "open":
                self.orphans.pop(client_id)
                self.state.adopted.add(client_id)
        self.state.sync_fills(self.store)

    def _scan_late_copies(self) -> None:
        """While intents proven absent are watched, look for a late copy resting in the book: the strategy was told
        "not placed" and decided again, so the copy is cancelled (its fills, if any, are adopted)."""
        now = self.store.clock.time()
        if now < self._next_scan or not self.state.watched_intents(self.store.kraken_time()):
            return
        self._next_scan = now + LATE_COPY_SCAN_SECONDS
        ours, _ = split_open_orders(self.store.fetch_open_orders(), self.state.client_ids())
        owned = {t.client_id for t in self.tracked.values()} | set(self.orphans)  # followed elsewhere
        for order in ours:
            client_id = client_id_of(order)
            if client_id not in owned:
                log.warning("order %s: a copy Kraken shows late is resting; cancelling it", client_id)
                self._cancel_leftover(client_id, order["id"])
                self.state.update_from_exchange(client_id, self.store.fetch_order(order["id"]))
                self.state.adopted.add(client_id)
        self.state.sync_fills(self.store)

    def _take_new_fills(self) -> None:
        """Fills the state recorded for orders settled without them (adopted late copies, earlier runs' orders):
        into the results and, as late fills, to the books of the strategies that placed them."""
        strategies, labels = {}, {}
        for client_id, trade in self.state.take_new_fills():
            if client_id not in self.state.adopted:
                continue
            if client_id not in strategies:
                row = self.state.order(client_id) or {}
                strategies[client_id] = row.get("strategy")
                labels[client_id] = (row.get("strategy") or PORTFOLIO, row.get("regime") or NO_REGIME,
                                     row.get("reason") or UNSPECIFIED)
            signed = trade["amount"] if trade["side"] == "buy" else -trade["amount"]
            data = next((d for d in self.datas if d._name == trade["symbol"]), None)
            if strategies[client_id]:
                self.late_fills[strategies[client_id]].append((trade["symbol"], signed, trade["price"], trade["fee"]))
            if data is not None:
                number = self._order_ids.setdefault(client_id, len(self._order_ids) + 1)
                self._record_fill(data, client_id, trade["side"], trade["amount"], trade["price"], trade["fee"],
                                  "taker", data.close[0] if len(data) else trade["price"], number,
                                  labels[client_id], why=" (adopted: Kraken showed the order late)")
