"""The SQLite trading state with real files, and reconciliation against the emulator after simulated crashes."""

from __future__ import annotations

import pytest

from kraken_global.emulator import EmulatorServer
from kraken_global.live.credentials import Credentials
from kraken_global.live.state import TradingState
from kraken_global.live.store import KrakenStore, StoreSettings, new_client_order_id


@pytest.fixture
def emulator():
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def store(emulator) -> KrakenStore:
    return KrakenStore(Credentials(emulator.key, emulator.secret),
                       StoreSettings(api_url=emulator.base_url, enable_rate_limit=False, backoff_seconds=0.01)).start()


def test_an_intent_that_never_reached_the_exchange_is_marked_not_placed(tmp_path, store):
    state = TradingState(tmp_path / "state.db")
    cid = new_client_order_id()
    state.record_intent(cid, "BTC/USD", "buy", "limit", 0.01, 1000.0)
    state.close()  # the process dies before sending
    restarted = TradingState(tmp_path / "state.db")
    actions = restarted.reconcile(store)
    assert restarted.order(cid)["status"] == "not_placed" and "never reached" in actions[0]
    assert restarted.unsettled_orders() == []


def test_an_order_sent_just_before_a_crash_is_found_with_its_fills(tmp_path, store, emulator):
    state = TradingState(tmp_path / "state.db")
    market, resting = new_client_order_id(), new_client_order_id()
    state.record_intent(market, "BTC/USD", "buy", "market", 0.02)
    state.record_intent(resting, "BTC/USD", "buy", "limit", 0.01, 1000.0)
    store.submit_order("BTC/USD", "buy", "market", 0.02, client_order_id=market)
    store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0, client_order_id=resting)
    state.close()  # the process dies before recording what the exchange answered
    restarted = TradingState(tmp_path / "state.db")
    restarted.reconcile(store)
    assert restarted.order(market)["status"] == "closed" and restarted.order(market)["filled"] == pytest.approx(0.02)
    assert restarted.order(resting)["status"] == "open" and restarted.order(resting)["txid"]
    assert restarted.positions() == {"BTC/USD": pytest.approx(0.02)}
    assert len(restarted.fills()) == 1
    assert restarted.reconcile(store)[-1].endswith("(" + restarted.order(resting)["txid"] + ")")  # idempotent
    assert len(restarted.fills()) == 1


def test_a_fill_recorded_twice_counts_once(tmp_path):
    state = TradingState(tmp_path / "state.db")
    cid = new_client_order_id()
    state.record_intent(cid, "ETH/USD", "buy", "market", 1.0)
    trade = {"id": "T1", "order": "O1", "symbol": "ETH/USD", "side": "buy", "amount": 1.0, "price": 100.0,
             "fee": {"cost": 0.26}, "timestamp": 1_700_000_000_000}
    assert state.record_fill(cid, trade) is True
    assert state.record_fill(cid, trade) is False
    assert state.positions() == {"ETH/USD": 1.0}


def test_a_failed_transaction_leaves_nothing_half_written(tmp_path):
    state = TradingState(tmp_path / "state.db")
    cid = new_client_order_id()
    state.record_intent(cid, "ETH/USD", "buy", "market", 1.0)
    with pytest.raises(Exception, match="UNIQUE"):
        state.record_intent(cid, "ETH/USD", "sell", "market", 2.0)  # the same client id twice
    assert state.order(cid)["side"] == "buy" and len(state.unsettled_orders()) == 1


def _trade(trade_id: str, side: str, amount: float, price: float, fee: float, ms: int) -> dict:
    return {"id": trade_id, "order": None, "symbol": "BTC/USD", "side": side, "amount": amount, "price": price,
            "fee": {"cost": fee}, "timestamp": ms}


def test_each_strategy_resumes_its_own_book_and_a_flattening_starts_them_again(tmp_path):
    state = TradingState(tmp_path / "state.db")
    for cid, strategy in (("kgA", "TrendFollower"), ("kgB", "TrendFollower"), ("kgC", "Recovery")):
        state.record_intent(cid, "BTC/USD", "buy", "market", 1.0, None, strategy)
    state.record_fill("kgA", _trade("T1", "buy", 0.5, 100.0, 0.1, 1_000))
    state.record_fill("kgB", _trade("T2", "sell", 0.2, 110.0, 0.05, 2_000))
    state.record_fill("kgC", _trade("T3", "buy", 0.3, 105.0, 0.08, 3_000))
    state.close()
    restarted = TradingState(tmp_path / "state.db")
    trend = restarted.strategy_books("TrendFollower")["BTC/USD"]
    assert trend["units"] == pytest.approx(0.3)
    assert trend["cash_flow"] == pytest.approx(-0.5 * 100.0 + 0.2 * 110.0 - 0.15)
    assert trend["fees"] == pytest.approx(0.15)
    assert restarted.strategy_books("Recovery")["BTC/USD"]["units"] == pytest.approx(0.3)
    restarted.mark_flattened(3.0)  # the kill switch sold everything at t = 3 s (the exchange's clock)
    assert restarted.strategy_books("TrendFollower") == {} and restarted.strategy_books("Recovery") == {}
