"""Orders that are never doubled or lost, against the emulator's Kraken semantics: ``deadline``, late acceptance,
query lag, documented rejections, 50-trade pages, cancelling a closed order, one process per key.

One emulator serves the module (reset before each test) on a stepped Kraken clock that the store's waits move, and
drops the connection of a reply the client must miss: deadlines and lags are Kraken's seconds, never waited out."""

from __future__ import annotations

import time

import ccxt
import pytest

from kraken_global.live.credentials import Credentials
from kraken_global.live.errors import (
    NONCE_ADVICE,
    CredentialsError,
    LiveError,
    OrderNotPlaced,
    OrderRejected,
    UnknownOrderError,
    is_definite_rejection,
    translate,
)
from kraken_global.live.keyguard import KeyGuard, KeyInUse
from kraken_global.live.state import TradingState
from kraken_global.live.store import KrakenStore, StoreSettings, new_client_order_id, rfc3339
from kraken_global.sessions.configuration_check import OVERRIDE_WORD


@pytest.fixture
def emulator(stepped_emulator):
    return stepped_emulator


def store_for(emulator, guard: KeyGuard | None = None, **settings) -> KrakenStore:
    options = {"api_url": emulator.base_url, "timeout_ms": 5000, "enable_rate_limit": False,
               "backoff_seconds": 0.01, "deadline_seconds": 3.0, "deadline_margin_seconds": 0.5,
               "poll_seconds": 0.05, **settings}
    return KrakenStore(Credentials(emulator.key, emulator.secret), StoreSettings(**options),
                       clock=emulator.exchange_clock, guard=guard).start()


def kraken_now(emulator) -> float:
    return emulator.exchange_clock.time()


def orders_of(emulator, client_id: str | None = None) -> list:
    return [o for o in emulator.exchange.orders[emulator.key].values()
            if client_id is None or o.cl_ord_id == client_id]


def run_until(emulator, condition, seconds: float = 20.0) -> None:
    """Move Kraken's clock (the exchange acts on what falls due) until ``condition`` holds."""
    for _ in range(int(seconds * 10)):
        emulator.exchange.sync()
        if condition():
            return
        emulator.exchange_clock.advance(0.1)
    pytest.fail("condition not reached in time")


# -- the emulator's semantics ----------------------------------------------------------------------------------

def test_a_deadline_outside_krakens_window_is_refused(emulator):
    store = store_for(emulator)
    for offset in (-5, 1, 120):
        with pytest.raises(ccxt.ExchangeError, match="EGeneral:Invalid arguments:deadline"):
            store.client.create_order("BTC/USD", "limit", "buy", 0.01, 1000.0,
                                      {"deadline": rfc3339(kraken_now(emulator) + offset)})
    store.client.create_order("BTC/USD", "limit", "buy", 0.01, 1000.0,
                              {"deadline": rfc3339(kraken_now(emulator) + 30)})
    assert len(orders_of(emulator)) == 1


def test_cancelling_a_closed_order_is_an_unknown_order(emulator):
    store = store_for(emulator)
    filled = store.submit_order("BTC/USD", "buy", "market", 0.01)
    assert filled["status"] == "closed"
    with pytest.raises(UnknownOrderError, match="EOrder:Unknown order"):
        store.cancel_order(filled["id"])


def test_a_client_order_id_is_unique_among_open_orders_only(emulator):
    store = store_for(emulator)
    cid = new_client_order_id()
    store.client.create_order("BTC/USD", "market", "buy", 0.01, None, {"cl_ord_id": cid})
    store.client.create_order("BTC/USD", "market", "buy", 0.01, None, {"cl_ord_id": cid})
    assert len(orders_of(emulator, cid)) == 2  # what makes a careless resend double an order


def test_trades_history_pages_fifty_newest_first(emulator):
    store = store_for(emulator)
    for _ in range(120):
        store.client.create_order("BTC/USD", "market", "buy", 0.001, None)
        emulator.exchange_clock.advance(60)  # trades are stamped by Kraken's clock
    pages = [store.client.privatePostTradesHistory({"ofs": ofs})["result"] for ofs in (0, 50, 100)]
    assert [len(p["trades"]) for p in pages] == [50, 50, 20] and {p["count"] for p in pages} == {"120"}
    times = [float(t["time"]) for p in pages for t in p["trades"].values()]
    assert times == sorted(times, reverse=True) and len(set(times)) == 120
    middle = times[60]
    after = store.client.privatePostTradesHistory({"start": int(middle)})["result"]
    assert after["count"] == "60" and all(float(t["time"]) > middle for t in after["trades"].values())


# -- deadline-safe placement -----------------------------------------------------------------------------------

def test_an_order_accepted_late_before_its_deadline_is_found_not_resent(emulator):
    store = store_for(emulator)
    emulator.faults.add("AddOrder", "accepted_late", seconds=1.5)
    order = store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0)
    assert [o.txid for o in orders_of(emulator)] == [order["id"]]
    assert emulator.app.requests.count("AddOrder") == 1
    assert emulator.app.late == [{"placed": order["id"]}]


def test_an_order_accepted_after_its_deadline_is_refused_and_never_resent(emulator):
    """Kraken's engine reaches the order only after its deadline and refuses it; the store proves it absent once
    Kraken's clock has passed the deadline and margin, and sends nothing more: the strategy decides again."""
    store = store_for(emulator)
    emulator.faults.add("AddOrder", "accepted_late", seconds=4.5)
    with pytest.raises(OrderNotPlaced, match="after its deadline"):
        store.submit_order("BTC/USD", "buy", "market", 0.01)
    run_until(emulator, lambda: emulator.app.late)
    assert "deadline" in emulator.app.late[0]["error"]
    assert emulator.app.requests.count("AddOrder") == 1 and orders_of(emulator) == []
    assert emulator.exchange.trades[emulator.key] == {}


def test_a_resend_waits_for_the_deadline_even_when_the_first_copy_filled(emulator):
    """A lost reply on a market order: the first copy filled at once, so no open order holds its cl_ord_id;
    the store finds it in the closed orders instead of sending a second."""
    store = store_for(emulator)
    emulator.faults.add("AddOrder", "lost_response")
    order = store.submit_order("BTC/USD", "buy", "market", 0.01)
    assert order["status"] == "closed" and len(orders_of(emulator)) == 1
    assert emulator.app.requests.count("AddOrder") == 1


def test_query_lag_after_acceptance_is_not_a_rejection(emulator):
    store = store_for(emulator)
    emulator.faults.add("AddOrder", "query_lag", seconds=1.5)
    order = store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0)
    assert order["status"] == "open" and order["id"] == orders_of(emulator)[0].txid
    run_until(emulator, lambda: emulator.app.visibility.visible(order["id"]))
    assert store.fetch_order(order["id"])["status"] == "open"
    emulator.faults.add("AddOrder", "query_lag", seconds=0.3)
    seen = store_for(emulator, deadline_margin_seconds=3.0).submit_order("BTC/USD", "buy", "market", 0.01)
    assert seen["status"] == "closed" and seen["filled"] == pytest.approx(0.01)  # read once the lag was over
    assert len(orders_of(emulator)) == 2


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"amount": 0.0001, "price": 1000.0}, "EOrder:Cost minimum not met"),
    ({"amount": 0.01, "price": 100000.0, "post_only": True}, "EOrder:Post only order"),
    ({"amount": 50.0, "price": 1000.0}, "EOrder:Insufficient funds"),
])
def test_documented_refusals_are_final_rejections_sent_once(emulator, kwargs, reason):
    store = store_for(emulator)
    with pytest.raises(OrderRejected, match=reason):
        store.submit_order("BTC/USD", "buy", "limit", **kwargs)
    assert emulator.app.requests.count("AddOrder") == 1 and orders_of(emulator) == []


@pytest.mark.parametrize("reason", ["EOrder:Tick size check failed", "EOrder:Cost minimum not met",
                                    "EOrder:Post only order", "EGeneral:Invalid arguments:volume"])
def test_documented_refusals_that_ccxt_leaves_generic_are_rejections(reason):
    exc = ccxt.ExchangeError(f'kraken {{"error":["{reason}"]}}')
    assert is_definite_rejection(exc) and isinstance(translate(exc), OrderRejected)


@pytest.mark.parametrize("reason", ["EOrder:Unknown order", "EService:Unavailable", "EGeneral:Internal error",
                                    "EOrder:Duplicate order", "EOrder:Something new"])
def test_anything_else_on_placement_is_an_unknown_outcome(reason):
    exc = ccxt.InvalidOrder(f'kraken {{"error":["{reason}"]}}')
    assert not is_definite_rejection(exc)


def test_an_undocumented_error_is_an_unknown_outcome_resolved_by_lookup(emulator):
    store = store_for(emulator)
    cid = new_client_order_id()
    first = store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0, client_order_id=cid)
    again = store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0, client_order_id=cid)  # "Duplicate order"
    assert again["id"] == first["id"] and len(orders_of(emulator, cid)) == 1


# -- paged fills ----------------------------------------------------------------------------------------------

def _place(store: KrakenStore, state: TradingState, n: int) -> None:
    for _ in range(n):
        cid = new_client_order_id()
        state.record_intent(cid, "BTC/USD", "buy", "market", 0.001)
        state.update_from_exchange(cid, store.submit_order("BTC/USD", "buy", "market", 0.001, client_order_id=cid,
                                                           on_send=state.set_deadline))


def test_more_than_two_hundred_fills_between_two_syncs_are_all_recorded(emulator, tmp_path):
    store = store_for(emulator)
    state = TradingState(tmp_path / "state.sqlite")
    try:
        _place(store, state, 3)
        assert len(state.sync_fills(store)) == 3
        before = emulator.app.requests.count("TradesHistory")
        _place(store, state, 210)
        assert len(state.sync_fills(store)) == 210
        assert emulator.app.requests.count("TradesHistory") - before == 5  # pages of 50 from the cursor
        assert sorted(f["trade_id"] for f in state.fills()) == sorted(emulator.exchange.trades[emulator.key])
        assert state.sync_fills(store) == []
    finally:
        state.close()


# -- one process per key --------------------------------------------------------------------------------------

def test_a_second_store_on_the_same_key_is_refused(emulator, tmp_path):
    first = store_for(emulator, KeyGuard(emulator.key, tmp_path))
    with pytest.raises(KeyInUse, match="another kraken-global session is using this API key"):
        store_for(emulator, KeyGuard(emulator.key, tmp_path))
    first.fetch_balance()
    first.stop()
    store_for(emulator, KeyGuard(emulator.key, tmp_path)).stop()


def test_nonces_keep_growing_across_restarts(emulator, tmp_path):
    ahead = int(time.time() * 1000) + 3_600_000  # an earlier run's nonce, an hour ahead of this clock
    (KeyGuard(emulator.key, tmp_path).nonce_path).parent.mkdir(parents=True, exist_ok=True)
    KeyGuard(emulator.key, tmp_path).nonce_path.write_text(str(ahead))
    store = store_for(emulator, KeyGuard(emulator.key, tmp_path))
    store.fetch_balance()
    assert emulator.app.nonces.last[emulator.key] > ahead
    store.stop()
    restarted = store_for(emulator, KeyGuard(emulator.key, tmp_path))
    restarted.fetch_balance()
    restarted.stop()
    with pytest.raises(CredentialsError) as info:  # a client with the plain clock nonce is refused, and told why
        store_for(emulator).fetch_balance()
    assert str(info.value) == NONCE_ADVICE and "one session per key" in str(info.value)


# -- after a crash: reconciliation waits for the deadline ------------------------------------------------------

def sent_before_a_crash(emulator, store: KrakenStore, state: TradingState, fault: str, **fault_options) -> str:
    """A market order's intent and deadline recorded, its AddOrder sent under ``fault``; the process dies with the
    reply outstanding. Returns its client order id."""
    cid = new_client_order_id()
    state.record_intent(cid, "BTC/USD", "buy", "market", 0.01)
    deadline = float(int(kraken_now(emulator)) + 4)
    state.set_deadline(cid, deadline)
    emulator.faults.add("AddOrder", fault, **fault_options)
    with pytest.raises(ccxt.BaseError):
        store.client.create_order("BTC/USD", "market", "buy", 0.01, None,
                                  {"cl_ord_id": cid, "deadline": rfc3339(deadline)})
    return cid


@pytest.mark.parametrize(("late", "placed"), [(1.5, True), (4.5, False)])
def test_reconciliation_waits_for_the_deadline_of_an_order_sent_before_a_crash(emulator, tmp_path, late, placed):
    store = store_for(emulator)
    state = TradingState(tmp_path / "state.sqlite")
    cid = sent_before_a_crash(emulator, store, state, "accepted_late", seconds=late)
    state.close()
    restarted = TradingState(tmp_path / "state.sqlite")
    try:
        restarted.reconcile(store)
        run_until(emulator, lambda: emulator.app.late)
        assert restarted.order(cid)["status"] == ("closed" if placed else "not_placed")
        assert len(orders_of(emulator, cid)) == (1 if placed else 0)
        assert len(restarted.fills()) == (1 if placed else 0)
    finally:
        restarted.close()


def test_a_restart_while_lookups_fail_keeps_the_order_unknown_never_not_placed(emulator, tmp_path):
    """Killed after sending; restarted while Kraken rate-limits OpenOrders and the other order lookups are
    unavailable: a failed lookup proves nothing, so the intent stays unknown (not ``not_placed``, which would lose
    its fill for good) and is settled, with its fill, once the lookups work again."""
    store = store_for(emulator)
    state = TradingState(tmp_path / "state.sqlite")
    cid = sent_before_a_crash(emulator, store, state, "lost_response")  # placed and filled, its reply lost
    emulator.exchange_clock.advance(60)  # the restart comes long after the deadline
    emulator.faults.add("OpenOrders", "rate_limit", count=20)
    emulator.faults.add("ClosedOrders", "unavailable", count=20)
    emulator.faults.add("QueryOrders", "unavailable", count=20)  # the trade it left cannot be attributed either
    actions = state.reconcile(store)
    assert state.order(cid)["status"] == "unknown" and any("outcome unknown" in a for a in actions)
    assert state.fills() == []
    emulator.faults.clear()
    state.reconcile(store)
    assert state.order(cid)["status"] == "closed" and len(state.fills()) == 1
    state.close()


# -- the broker: cancels that meet a closed order ----------------------------------------------------------

class RacingStore(KrakenStore):
    """Lists the open orders, then (as the market would) closes them before the broker's cancel arrives."""

    def fetch_open_orders(self):
        listed = super().fetch_open_orders()
        for order in listed:
            super().cancel_order(order["id"])
        return listed


def test_leftover_orders_that_closed_meanwhile_do_not_stop_the_start(emulator, tmp_path):
    from kraken_global.live.broker import KrakenLiveBroker

    options = {"api_url": emulator.base_url, "timeout_ms": 5000, "enable_rate_limit": False,
               "backoff_seconds": 0.01}
    store = RacingStore(Credentials(emulator.key, emulator.secret), StoreSettings(**options),
                        clock=emulator.exchange_clock).start()
    state = TradingState(tmp_path / "state.sqlite")
    cid = new_client_order_id()
    state.record_intent(cid, "BTC/USD", "buy", "limit", 0.01, 1000.0)
    state.update_from_exchange(cid, store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0, client_order_id=cid))
    broker = KrakenLiveBroker(store=store, state=state)
    try:
        broker.start()
        assert any("closed before it was cancelled" in line for line in broker.reconciliation)
        assert state.order(cid)["status"] == "canceled"
    finally:
        state.close()


def test_cancelling_an_order_that_filled_meanwhile_completes_it(emulator, tmp_path):
    import backtrader as bt

    from kraken_global.feeds import NumpyFeed
    from kraken_global.live.broker import KrakenLiveBroker
    from kraken_global.schedule import DowntimeSchedule
    from tests.conftest import candles

    store = store_for(emulator)
    state = TradingState(tmp_path / "state.sqlite")
    last = emulator.market.last_price("XXBTZUSD", emulator.clock.now())
    limit = round(last * 0.995, 1)

    class PlaceThenCancel(bt.Strategy):
        def __init__(self) -> None:
            self.statuses: list[str] = []
            self.order = None

        def next(self) -> None:
            if len(self) == 1:
                self.order = self.buy(size=0.01, price=limit, exectype=bt.Order.Limit)
            elif len(self) == 2:
                txid = self.order.info["txid"]
                store.refresh_dead_mans_switch(0)  # the replay clock jumps hours: keep the switch out of it
                for _ in range(500):  # the market trades through the limit before the cancel arrives
                    if emulator.exchange.orders[emulator.key][txid].status != "open":
                        break
                    emulator.advance(3600)
                self.cancel(self.order)

        def notify_order(self, order) -> None:
            self.statuses.append(order.getstatusname())

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(NumpyFeed(frame=candles([last] * 3)), name="BTC/USD")
    cerebro.broker = KrakenLiveBroker(store=store, state=state, schedule=DowntimeSchedule(enabled=False))
    cerebro.addstrategy(PlaceThenCancel)
    try:
        strategy = cerebro.run()[0]
    finally:
        state.close()
    assert strategy.statuses[-1] == "Completed" and "Canceled" not in strategy.statuses
    assert strategy.order.executed.size == pytest.approx(0.01) and strategy.order.executed.price == pytest.approx(limit)


def test_a_second_live_session_on_the_same_key_is_refused_with_one_line(tmp_path):
    import subprocess
    import sys

    from tests.session_helpers import approve_a_model, write_config_file, write_credentials
    from tests.session_helpers import emulator as session_emulator

    with session_emulator() as server:
        config_file = write_config_file(server, tmp_path)
        credentials = write_credentials(server, tmp_path / "credentials.json")
        approve_a_model(tmp_path / "artifacts")
        running = KeyGuard(server.key, tmp_path / "keys").acquire()  # the first session
        try:
            second = subprocess.run([sys.executable, "-m", "kraken_global.cli", "live", "--config", str(config_file),
                                     "--credentials", str(credentials), "--unapproved-config", OVERRIDE_WORD],
                                    capture_output=True, text=True, timeout=120)
        finally:
            running.release()
    assert second.returncode == 2 and "Traceback" not in second.stderr
    errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]  # after the start-up log
    assert len(errors) == 1 and "another kraken-global session is using this API key" in errors[0]
    assert server.key not in second.stderr and server.secret not in second.stderr


def test_a_key_lock_folder_that_cannot_be_written_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(LiveError, match=r"KRAKEN_GLOBAL_LOCK_DIR or live\.key_lock_dir at a writable folder"):
        KeyGuard("some-key", blocker / "keys").acquire()


def test_an_order_whose_placement_stayed_unknown_is_rejected_once_its_deadline_proves_it_never_existed(emulator,
                                                                                                   tmp_path):
    import backtrader as bt

    from kraken_global.feeds import NumpyFeed
    from kraken_global.live.broker import KrakenLiveBroker
    from kraken_global.schedule import DowntimeSchedule
    from tests.conftest import candles

    store = store_for(emulator, max_attempts=1)
    state = TradingState(tmp_path / "state.sqlite")
    last = emulator.market.last_price("XXBTZUSD", emulator.clock.now())
    emulator.faults.add("AddOrder", "http_500")

    class BuyOnce(bt.Strategy):
        def __init__(self) -> None:
            self.statuses: list[str] = []
            self.order = None

        def next(self) -> None:
            if len(self) == 1:
                self.order = self.buy(size=0.01)

        def notify_order(self, order) -> None:
            self.statuses.append(order.getstatusname())

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(NumpyFeed(frame=candles([last] * 3)), name="BTC/USD")
    cerebro.broker = KrakenLiveBroker(store=store, state=state, schedule=DowntimeSchedule(enabled=False))
    cerebro.addstrategy(BuyOnce)
    try:
        strategy = cerebro.run()[0]
        rows = [state.order(cid) for cid in [strategy.order.info["client_order_id"]]]
    finally:
        state.close()
    assert strategy.statuses == ["Submitted", "Rejected"]
    assert strategy.order.info["reject_reason"].startswith("not placed")
    assert rows[0]["status"] == "not_placed" and orders_of(emulator) == []
