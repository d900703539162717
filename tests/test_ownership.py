"""The bot touches only what it did on a shared account, and honours Kraken's refusals and limits: a start with
another party's orders under Kraken's account-wide dead man's switch is refused; only its own orders are cancelled;
the kill switch sells only the units its fills built; a capital budget caps its buys; a pair's market status is
honoured before sending and Kraken's status refusals are final; Kraken's rate limit is modelled so calls wait
instead of being refused; the account's own fee is read from TradeVolume."""

from __future__ import annotations

from dataclasses import replace

import backtrader as bt
import pytest

from kraken_global.feeds import NumpyFeed
from kraken_global.fees import KRAKEN_LEGACY
from kraken_global.live.account_fees import read_account_fees
from kraken_global.live.broker import KrakenLiveBroker
from kraken_global.live.credentials import Credentials
from kraken_global.live.errors import OrderRejected, TradingRefused
from kraken_global.live.rate_limit import RatePacer
from kraken_global.live.state import TradingState
from kraken_global.live.store import KrakenStore, new_client_order_id
from kraken_global.schedule import DowntimeSchedule
from kraken_global.universe import Universe, catalog
from tests.conftest import SHARED_ACCOUNT, account_store, candles


@pytest.fixture
def emulator(shared_account):
    return shared_account


def by_hand(store: KrakenStore, client_order_id: str | None = None) -> str:
    params = {"cl_ord_id": client_order_id} if client_order_id else {}
    return store.client.create_order("BTC/USD", "limit", "sell", 0.1, 99_000.0, params)["id"]


def status_of(emulator, txid: str) -> str:
    return emulator.exchange.orders[emulator.key][txid].status


def test_a_start_with_others_orders_under_the_dead_mans_switch_is_refused_unless_dedicated(emulator):
    store = account_store(emulator)
    hand = by_hand(store)
    with pytest.raises(TradingRefused, match=r"1 open order\(s\) this bot did not place.*dedicated_account: true"):
        KrakenLiveBroker(store=store, state=TradingState(":memory:")).start()
    assert emulator.exchange._dead_man[emulator.key] is None  # refused before arming anything
    broker = KrakenLiveBroker(store=store, state=TradingState(":memory:"), dedicated_account=True)
    broker.start()
    broker.stop()
    broker.on_session_stop("cancel")
    assert status_of(emulator, hand) == "open" and broker.foreign_orders == 1


def test_only_the_bots_own_leftovers_are_cancelled_at_start(emulator):
    store = account_store(emulator)
    state = TradingState(":memory:")
    mine = new_client_order_id()
    state.record_intent(mine, "BTC/USD", "sell", "limit", 0.1, 99_000.0)
    ours = by_hand(store, mine)  # an earlier run's order (in the state)
    lookalike = by_hand(store, new_client_order_id())  # the bot's prefix, but not in its records
    hand = by_hand(store)
    broker = KrakenLiveBroker(store=store, state=state, dead_mans_switch_seconds=None)
    broker.start()
    assert status_of(emulator, ours) == "canceled"
    assert status_of(emulator, lookalike) == "open" and status_of(emulator, hand) == "open"
    assert any(line.startswith(mine) and "cancelled" in line for line in broker.reconciliation)


class Script(bt.Strategy):
    """Bar 1: buy 0.01 BTC at market and rest a bid; bar 2: ``then(strategy)``."""

    params = (("then", None),)

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def next(self) -> None:
        if len(self) == 1:
            self.buy(size=0.01)
            self.buy(size=0.01, price=1000.0, exectype=bt.Order.Limit)
        elif len(self) == 2 and self.p.then is not None:
            self.p.then(self)

    def notify_order(self, order) -> None:
        if order.status == order.Rejected:
            self.reasons.append(order.info.get("reject_reason"))


def run_script(emulator, then=None, universe: Universe | None = None, **broker) -> tuple[Script, TradingState]:
    store = account_store(emulator)
    state = TradingState(":memory:")
    last = emulator.market.last_price("XXBTZUSD", emulator.clock.now())
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(NumpyFeed(frame=candles([last] * 3)), name="BTC/USD")
    cerebro.broker = KrakenLiveBroker(store=store, state=state, schedule=DowntimeSchedule(enabled=False),
                                      sync_seconds=0.0, dead_mans_switch_seconds=None, universe=universe, **broker)
    cerebro.addstrategy(Script, then=then)
    return cerebro.run()[0], state


def test_the_kill_switch_cancels_and_sells_only_what_the_bot_placed_and_built(emulator):
    hand = by_hand(account_store(emulator))
    strategy, state = run_script(emulator, then=lambda s: s.broker.flatten())
    assert strategy.reasons == []
    assert status_of(emulator, hand) == "open"
    assert emulator.exchange.accounts[emulator.key].balances["XXBT"] == pytest.approx(SHARED_ACCOUNT["XXBT"])
    assert state.positions().get("BTC/USD", 0.0) == pytest.approx(0.0, abs=1e-12)
    ours = [o for o in emulator.exchange.orders[emulator.key].values() if o.cl_ord_id]
    assert [o.status for o in ours if o.ordertype == "limit"] == ["canceled"]
    assert [o.volume for o in ours if o.side == "sell"] == [0.01]  # not the owner's 0.5 BTC


def test_a_capital_budget_caps_what_the_bot_buys(emulator):
    last = emulator.market.last_price("XXBTZUSD", emulator.clock.now())

    def buy_beyond(strategy) -> None:
        strategy.buy(size=round(100.0 / last, 8))

    strategy, _ = run_script(emulator, then=buy_beyond, capital_budget=last * 0.015)
    # 0.01 BTC and a 10 USD bid fit in the budget; 100 USD more does not
    assert len(strategy.reasons) == 1 and "live.capital.budget_usd" in strategy.reasons[0]


@pytest.mark.parametrize(("status", "refused"), [
    ("cancel_only", ["market in cancel_only mode", "market in cancel_only mode"]),
    ("post_only", ["market in post_only mode", "market in post_only mode"]),  # the bid is not post-only
    ("limit_only", ["market in limit_only mode"]),
    ("reduce_only", ["market in reduce_only mode", "market in reduce_only mode"]),
])
def test_a_pairs_market_status_is_honoured_before_sending(emulator, status, refused):
    btc = catalog().resolve("BTC/USD")
    universe = Universe([replace(btc, status=status)])
    strategy, _ = run_script(emulator, universe=universe)
    assert [r.split(":")[0] for r in strategy.reasons] == refused
    sent = emulator.app.requests.count("AddOrder")
    assert sent == 2 - len(refused)


def test_krakens_market_status_refusals_are_final(emulator):
    store = account_store(emulator)
    emulator.market.rules["XXBTZUSD"] = replace(emulator.market.rules["XXBTZUSD"], status="cancel_only")
    with pytest.raises(OrderRejected, match="EService:Market in cancel_only mode"):
        store.submit_order("BTC/USD", "buy", "limit", 0.01, 1000.0)
    assert emulator.app.requests.count("AddOrder") == 1  # not resent, not looked up as unknown
    assert emulator.app.requests.count("OpenOrders") == 0


def test_the_rate_model_makes_calls_wait_instead_of_being_refused(emulator):
    """Starter tier: 15 calls at once, then one per 3 s; a Kraken refusal fills the counter."""
    store = account_store(emulator, rate_tier="starter")
    start = emulator.exchange_clock.time()
    for _ in range(20):
        store.fetch_balance()
    waited = emulator.exchange_clock.time() - start
    assert store.pacer.waited == pytest.approx(waited) and 10 < waited < 30
    emulator.faults.add("BalanceEx", "rate_limit")
    before = store.pacer.waited
    store.fetch_balance()  # refused, retried once the counter has room again
    assert store.pacer.waited - before > 2.0
    assert RatePacer("pro", emulator.exchange_clock).rest.maximum == 20


def test_the_session_takes_the_fee_the_account_pays_from_trade_volume(emulator):
    """The emulated account pays the 2026-07 schedule; a session configured with the legacy preset pays that."""
    fees = read_account_fees(account_store(emulator), "BTC/USD", KRAKEN_LEGACY)
    assert (fees.maker, fees.taker, fees.source) == (pytest.approx(0.004), pytest.approx(0.008), "TradeVolume")
    assert fees.as_metrics() == {"maker_pct": 0.4, "taker_pct": 0.8, "source": "TradeVolume"}
    public = read_account_fees(None, "BTC/USD", KRAKEN_LEGACY)
    assert public.source.startswith("preset kraken-legacy (no credentials") and public.taker == 0.0026


def test_a_paper_session_with_credentials_reads_the_accounts_fee_unless_a_live_session_holds_the_key(emulator,
                                                                                                    tmp_path):
    from kraken_global.config import BacktestConfig
    from kraken_global.live.keyguard import KeyGuard
    from kraken_global.sessions.session import paper_fees

    config = BacktestConfig().with_overrides({"live.api_url": emulator.base_url, "live.rate_limit": False,
                                              "live.key_lock_dir": str(tmp_path / "keys"),
                                              "live.max_clock_skew_seconds": None})
    credentials = Credentials(emulator.key, emulator.secret)
    assert paper_fees(config, credentials, "BTC/USD").as_metrics() == {"maker_pct": 0.4, "taker_pct": 0.8,
                                                                        "source": "TradeVolume"}
    running = KeyGuard(emulator.key, tmp_path / "keys").acquire()  # a live session on the same key
    try:
        fees = paper_fees(config, credentials, "BTC/USD")
    finally:
        running.release()
    assert fees.source.startswith("preset kraken-legacy") and fees.taker == 0.0026
