"""Attacks on the live start's wait (kraken_global/live/start_wait.py): a start whose exchange steps partly
succeed and then are refused, repeated; against the emulator and the real live broker. Bounded in seconds."""

from __future__ import annotations

from collections import Counter

import pytest

from kraken_global.live.broker import KrakenLiveBroker
from kraken_global.live.errors import TemporaryError
from kraken_global.live.state import TradingState
from kraken_global.live.store import KrakenStore, new_client_order_id
from kraken_global.sessions.stop import StopRequest
from tests.conftest import account_store

ATTEMPTS = 2  # the store's attempts per read: one start attempt refused in full is ATTEMPTS faults


@pytest.fixture
def emulator(shared_account):
    return shared_account


def store_for(emulator) -> KrakenStore:
    return account_store(emulator, max_attempts=ATTEMPTS)


def leftovers(store: KrakenStore, state: TradingState) -> tuple[str, str]:
    """An earlier run's resting sell and its filled market buy, both known to the state only as intents."""
    resting, filled = new_client_order_id(), new_client_order_id()
    state.record_intent(resting, "BTC/USD", "sell", "limit", 0.1, 99_000.0, "Script")
    store.client.create_order("BTC/USD", "limit", "sell", 0.1, 99_000.0, {"cl_ord_id": resting})
    state.record_intent(filled, "BTC/USD", "buy", "market", 0.01, None, "Script")
    store.client.create_order("BTC/USD", "market", "buy", 0.01, None, {"cl_ord_id": filled})
    return resting, filled


@pytest.mark.parametrize("endpoint", ["BalanceEx", "TradesHistory", "QueryOrders", "ClosedOrders", "OpenOrders"])
@pytest.mark.parametrize("rounds", [1, 3])
def test_a_start_refused_after_it_cancelled_and_recorded_repeats_nothing(emulator, tmp_path, endpoint, rounds):
    """Held: the reconciliation settles the filled order and records its fill, the leftover is cancelled, then a
    lookup is refused for whole start attempts (``rounds``): the leftover is cancelled once, the fill recorded once,
    no order is marked not placed, the starting cash is the account's, and the switch is armed once."""
    store = store_for(emulator)
    state = TradingState(tmp_path / "state.sqlite")
    resting, filled = leftovers(store, state)
    emulator.app.requests.clear()
    emulator.faults.add(endpoint, "rate_limit", count=ATTEMPTS * rounds)
    broker = KrakenLiveBroker(store=store, state=state, dead_mans_switch_seconds=60, start_wait_seconds=120)
    try:
        broker.start()
        calls = Counter(emulator.app.requests)
        assert calls["CancelOrder"] == 1 and calls["CancelAllOrdersAfter"] == 1, calls
        assert emulator.exchange.orders[emulator.key][state.order(resting)["txid"]].status == "canceled"
        assert all(state.order(c)["status"] != "not_placed" for c in (resting, filled))
        assert broker.startingcash == pytest.approx(float(store.fetch_balance()["USD"]["free"]))
        for _ in range(rounds + 1):  # the loop's syncs settle what refused lookups left unknown (ClosedOrders)
            broker._sync()
        assert not broker.orphans and Counter(emulator.app.requests)["CancelOrder"] == 1
        trades = state.fills()
        assert [t["client_id"] for t in trades] == [filled]
        assert sum(t["amount"] for t in trades) == pytest.approx(0.01)
        assert len(broker.late_fills.get("Script", [])) <= 1  # handed to the strategy's books once at most
    finally:
        broker.stop()
        broker.on_session_stop("cancel")


def test_a_stop_while_the_start_waits_arms_nothing(emulator, tmp_path):
    """Held: a stop asked for while the start waits ends it with the exchange's error; the switch is never armed."""
    store = store_for(emulator)
    state = TradingState(tmp_path / "state.sqlite")
    leftovers(store, state)
    stop = StopRequest()
    emulator.faults.add("BalanceEx", "rate_limit", count=100)
    real_sleep = store.clock.sleep

    def sleep(seconds: float) -> None:  # the stop comes during the first pause of the wait
        stop.request("test")
        real_sleep(seconds)

    store.clock.sleep = sleep
    broker = KrakenLiveBroker(store=store, state=state, dead_mans_switch_seconds=60, start_wait_seconds=120, stop=stop)
    with pytest.raises(TemporaryError, match="rate limited"):
        broker.start()
    assert broker.dms is None and emulator.exchange._dead_man[emulator.key] is None
    assert "CancelAllOrdersAfter" not in emulator.app.requests
    emulator.faults.clear()
