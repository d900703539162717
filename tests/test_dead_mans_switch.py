"""The dead man's switch never starves: refreshed on its own timer while a placement is blocked for minutes, a failed
refresh logged and retried, and no new order while it cannot be refreshed.

Kraken's clock is a stepped one that the blocked placement's own waits move; the switch's thread refreshes at its
moments of that clock, so two minutes of Kraken's time cost a fraction of a real second.
"""

from __future__ import annotations

import logging

import backtrader as bt
import pytest

from kraken_global.feeds import NumpyFeed
from kraken_global.live.broker import KrakenLiveBroker
from kraken_global.live.credentials import Credentials
from kraken_global.live.dead_mans_switch import DeadMansSwitch
from kraken_global.live.state import TradingState
from kraken_global.live.store import KrakenStore, StoreSettings
from kraken_global.schedule import DowntimeSchedule
from tests.conftest import candles

BLOCKED_SECONDS = 120


@pytest.fixture
def emulator(stepped_emulator):
    return stepped_emulator


def store_for(emulator) -> KrakenStore:
    # five rate-limited AddOrders, backing off 16 s and then 32 s a time: the placement is blocked over two minutes
    settings = StoreSettings(api_url=emulator.base_url, timeout_ms=5000, enable_rate_limit=False, max_attempts=8,
                             backoff_seconds=16.0, max_backoff_seconds=32.0)
    return KrakenStore(Credentials(emulator.key, emulator.secret), settings, clock=emulator.exchange_clock).start()


def blocked_placement(emulator, store) -> tuple[str, float]:
    """A resting order, then a placement that rate limits hold for over two minutes of Kraken's clock."""
    resting = store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0)["id"]
    emulator.faults.add("AddOrder", "rate_limit", count=5)
    before = emulator.exchange_clock.time()
    store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0)
    return resting, emulator.exchange_clock.time() - before


def test_a_placement_blocked_two_minutes_does_not_let_the_switch_fire(emulator):
    store = store_for(emulator)
    switch = DeadMansSwitch(store, timeout_seconds=60, refresh_seconds=20).start()
    try:
        resting, blocked = blocked_placement(emulator, store)
    finally:
        switch.stop()
    assert blocked >= BLOCKED_SECONDS
    assert emulator.exchange.dead_man_fired == [] and switch.refreshes >= blocked // 20
    assert emulator.exchange.orders[emulator.key][resting].status == "open"
    assert emulator.exchange._dead_man[emulator.key] is None  # a clean stop switched it off


def test_without_its_own_timer_the_switch_fires_during_that_placement(emulator):
    """The control: armed once and refreshed only between calls, the switch cancels the resting order."""
    store = store_for(emulator)
    store.refresh_dead_mans_switch(60)
    resting, blocked = blocked_placement(emulator, store)
    assert blocked >= BLOCKED_SECONDS and len(emulator.exchange.dead_man_fired) == 1
    assert emulator.exchange.orders[emulator.key][resting].status == "canceled"


class BuyEachBar(bt.Strategy):
    """A small buy each bar; Kraken's clock moves 30 s a bar. After the first order, every refresh of the switch
    fails for a while (``failures``)."""

    params = (("emulator", None), ("failures", 0))

    def __init__(self) -> None:
        self.reasons: list[str | None] = []

    def next(self) -> None:
        self.reasons.append(None)
        self.buy(size=0.001)
        if len(self) == 1:
            self.p.emulator.faults.add("CancelAllOrdersAfter", "unavailable", count=self.p.failures)
        self.p.emulator.exchange_clock.advance(30)

    def notify_order(self, order) -> None:
        if order.status == order.Rejected:
            self.reasons[-1] = order.info.get("reject_reason")


def test_a_failed_refresh_is_logged_retried_and_blocks_new_orders_until_it_works(emulator, caplog):
    store = store_for(emulator)
    last = emulator.market.last_price("XXBTZUSD", emulator.clock.now())
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(NumpyFeed(frame=candles([last] * 4)), name="BTC/USD")
    cerebro.broker = KrakenLiveBroker(store=store, state=TradingState(":memory:"), sync_seconds=0.0,
                                      schedule=DowntimeSchedule(enabled=False), dead_mans_switch_seconds=60,
                                      dms_refresh_seconds=20)
    # the refresh due 20 s after the start and its retries every 2 s fail up to 30 s: the bar at 30 s opens
    # nothing; the retry at 32 s works and the bar at 60 s trades again
    cerebro.addstrategy(BuyEachBar, emulator=emulator, failures=6)
    caplog.set_level(logging.INFO)
    strategy = cerebro.run()[0]
    cerebro.broker.on_session_stop("cancel")
    assert strategy.reasons[0] is None and strategy.reasons[2] is None
    assert "dead man's switch could not be refreshed" in strategy.reasons[1]
    failed = [r for r in caplog.records if getattr(r, "kg_event", None) == "dms_refresh_failed"]
    assert len(failed) == 6 and "EService:Unavailable" in failed[0].kg_fields["reason"]
    assert emulator.exchange.dead_man_fired == []
