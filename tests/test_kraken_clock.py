"""Kraken's clock decides: the offset to Kraken's ``Time`` is measured at start and again periodically, deadlines
are stamped on Kraken's clock, and a skew beyond the configured bound stops trading with one clear line."""

from __future__ import annotations

import backtrader as bt
import pytest

from kraken_global.clocks import SkewedClock
from kraken_global.feeds import NumpyFeed
from kraken_global.live.broker import KrakenLiveBroker
from kraken_global.live.credentials import Credentials
from kraken_global.live.errors import TradingRefused
from kraken_global.live.state import TradingState
from kraken_global.live.store import KrakenStore, StoreSettings
from kraken_global.schedule import DowntimeSchedule
from tests.conftest import candles


@pytest.fixture
def emulator(stepped_emulator):
    return stepped_emulator


def store_with_clock(emulator, skew: float, **settings) -> KrakenStore:
    options = {"api_url": emulator.base_url, "enable_rate_limit": False, **settings}
    return KrakenStore(Credentials(emulator.key, emulator.secret), StoreSettings(**options),
                       clock=SkewedClock(emulator.exchange_clock, skew)).start()


@pytest.mark.parametrize("skew", [-30.0, 0.0, 30.0])
def test_deadlines_are_stamped_on_krakens_clock_whatever_the_machines(emulator, skew):
    store = store_with_clock(emulator, skew)
    assert store.kraken_clock.offset == pytest.approx(-skew, abs=1.0)
    assert store.kraken_time() == pytest.approx(emulator.exchange_clock.time(), abs=1.0)
    sent: list[float] = []
    store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0, on_send=lambda _cid, deadline: sent.append(deadline))
    assert sent[0] - emulator.exchange_clock.time() == pytest.approx(15.0, abs=1.5)


@pytest.mark.parametrize("skew", [-90.0, 90.0])
def test_a_clock_beyond_the_bound_is_refused_with_one_line(emulator, skew):
    with pytest.raises(TradingRefused) as refused:
        store_with_clock(emulator, skew)
    message = str(refused.value)
    assert "\n" not in message and "live.max_clock_skew_seconds (60)" in message and "NTP" in message
    assert ("ahead of" if skew > 0 else "behind") in message
    store_with_clock(emulator, skew, max_clock_skew_seconds=None).stop()  # a bound of None never refuses


class BuyEachBar(bt.Strategy):
    """A small buy each bar; Kraken's clock moves ten minutes a bar and the machine's drifts away after bar 1."""

    params = (("emulator", None), ("local", None))

    def __init__(self) -> None:
        self.refused: list[str] = []

    def next(self) -> None:
        self.buy(size=0.001)
        if len(self) == 1:
            self.p.local.skew = 120.0
        self.p.emulator.exchange_clock.advance(600)

    def notify_order(self, order) -> None:
        if order.status == order.Rejected:
            self.refused.append(order.info.get("reject_reason"))


def test_a_clock_that_drifts_during_a_session_stops_new_orders(emulator):
    local = SkewedClock(emulator.exchange_clock, 0.0)
    settings = StoreSettings(api_url=emulator.base_url, enable_rate_limit=False, clock_check_seconds=300)
    store = KrakenStore(Credentials(emulator.key, emulator.secret), settings, clock=local).start()
    last = emulator.market.last_price("XXBTZUSD", emulator.clock.now())
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(NumpyFeed(frame=candles([last] * 4)), name="BTC/USD")
    cerebro.broker = KrakenLiveBroker(store=store, state=TradingState(":memory:"), sync_seconds=0.0,
                                      schedule=DowntimeSchedule(enabled=False), dead_mans_switch_seconds=None)
    cerebro.addstrategy(BuyEachBar, emulator=emulator, local=local)
    strategy = cerebro.run()[0]
    # the first bar's order is placed; the clock is measured again ten minutes later and the next ones are refused
    # (backtrader tells a strategy of its last bar's refusal only after the run)
    assert len(strategy.refused) >= 2 and all("live.max_clock_skew_seconds" in r for r in strategy.refused)
    assert len(emulator.exchange.orders[emulator.key]) == 1
