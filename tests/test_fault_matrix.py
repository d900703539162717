"""Orders placed while a busy Kraken fails in two ways at once, and with the client's clock 30 s off: never doubled,
no fill missing from the state, positions equal to the balances minus the coins that were there before.

Every pair of fault kinds is played for a market and a limit order: a lost reply, a timeout, HTTP 5xx and a rate
limit on AddOrder, an order accepted late or invisible to queries for longer than the deadline and margin, and a rate
limit or ``EService:Unavailable`` on each endpoint the lookups use (OpenOrders, ClosedOrders, QueryOrders,
TradesHistory; eight calls in a row). Two AddOrder kinds act on the same request (``second_fault``), except that a
rate limit refuses the first request and the other kind meets the one sent again. Two lookup faults meet an order
whose reply was lost (nothing is looked up while every outcome is known). Each single kind is also played with the
client's clock 30 s ahead and 30 s behind Kraken's.

Each case runs the real live broker in a short cerebro against one emulator (reset between cases) whose Kraken clock
is a stepped one: the store's waits and one minute between bars move it, so deadlines and lags cost no real time. A
strategy wants 0.01 BTC (market) or one resting 0.01 BTC bid (limit) and decides every bar from its reconciled
position, as a sleeve does. The account also holds 0.5 BTC from before and a resting order placed by hand.
"""

from __future__ import annotations

import itertools

import backtrader as bt
import pytest

from kraken_global.clocks import SkewedClock, SteppedClock
from kraken_global.emulator import EmulatorServer
from kraken_global.feeds import NumpyFeed
from kraken_global.live.broker import KrakenLiveBroker
from kraken_global.live.credentials import Credentials
from kraken_global.live.state import FINAL, TradingState
from kraken_global.live.store import KrakenStore, StoreSettings, is_own_client_id
from kraken_global.schedule import DowntimeSchedule
from tests.conftest import candles

TARGET = 0.01
BEFORE = {"ZUSD": 10_000.0, "XXBT": 0.5}  # the account's coins before the bot starts
BARS = 6
BAR_SECONDS = 60.0
LOOKUP_FAILURES = 8
LOOKUPS = ("OpenOrders", "ClosedOrders", "QueryOrders", "TradesHistory")
#: name -> (endpoint, kind, seconds); deadline 5 s + margin 2 s: the lag outlasts both
KINDS = {
    "lost_reply": ("AddOrder", "lost_response", 0.0), "timeout": ("AddOrder", "timeout", 0.0),
    "http_500": ("AddOrder", "http_500", 0.0), "rate_limit": ("AddOrder", "rate_limit", 0.0),
    "accepted_late": ("AddOrder", "accepted_late", 3.0), "query_lag": ("AddOrder", "query_lag", 20.0),
    **{f"{kind}@{endpoint}": (endpoint, kind, 0.0) for endpoint in LOOKUPS for kind in ("rate_limit", "unavailable")},
}
PAIRS = list(itertools.combinations(KINDS, 2))
SKEWED = [(name,) for name in KINDS]


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(fault_delay=0.0, exchange_clock=SteppedClock(), balances=BEFORE) as emulator:
        yield emulator


def inject(server: EmulatorServer, names: tuple[str, ...]) -> None:
    """Queue the case's faults for its first order (see the module docstring)."""
    orders = sorted((KINDS[n] for n in names if KINDS[n][0] == "AddOrder"), key=lambda f: f[1] != "rate_limit")
    if not orders and len(names) == 2:
        orders = [KINDS["lost_reply"]]
    if len(orders) == 2 and orders[0][1] != "rate_limit":
        (_, first, first_seconds), (_, second, second_seconds) = orders
        server.faults.add("AddOrder", first, seconds=first_seconds, second_fault=second,
                          second_seconds=second_seconds)
    else:
        for _, kind, seconds in orders:
            server.faults.add("AddOrder", kind, seconds=seconds)
    for endpoint, kind, _ in (KINDS[n] for n in names if KINDS[n][0] != "AddOrder"):
        server.faults.add(endpoint, kind, count=LOOKUP_FAILURES)


class HoldTarget(bt.Strategy):
    """Wants ``TARGET`` BTC (market) or one resting bid of ``TARGET`` (limit); decides again every bar."""

    params = (("kind", "market"), ("bid", 1000.0), ("faults", ()), ("server", None))

    def __init__(self) -> None:
        self.order = None

    def notify_order(self, order) -> None:
        if not order.alive():
            self.order = None

    def next(self) -> None:
        if len(self) == 1:
            inject(self.p.server, self.p.faults)
        if self.order is None:
            if self.p.kind == "limit":
                self.order = self.buy(size=TARGET, price=self.p.bid, exectype=bt.Order.Limit)
            elif TARGET - self.broker.getposition(self.data).size > 1e-9:
                self.order = self.buy(size=TARGET - self.broker.getposition(self.data).size)
        self.p.server.exchange_clock.advance(BAR_SECONDS)


def run_case(server: EmulatorServer, kind: str, faults: tuple[str, ...], skew: float = 0.0):
    server.reset(BEFORE)
    clock = server.exchange_clock
    settings = StoreSettings(api_url=server.base_url, timeout_ms=5000, enable_rate_limit=False, backoff_seconds=0.5,
                             deadline_seconds=5.0, deadline_margin_seconds=2.0, unknown_wait_seconds=10.0,
                             poll_seconds=1.0)
    store = KrakenStore(Credentials(server.key, server.secret), settings,
                        clock=SkewedClock(clock, skew) if skew else clock).start()
    hand = store.client.create_order("BTC/USD", "limit", "sell", 0.1, 99_000.0)["id"]  # placed by hand
    state = TradingState(":memory:")
    last = server.market.last_price("XXBTZUSD", server.clock.now())
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(NumpyFeed(frame=candles([last] * BARS)), name="BTC/USD")
    cerebro.broker = KrakenLiveBroker(store=store, state=state, schedule=DowntimeSchedule(enabled=False),
                                      sync_seconds=0.0, dead_mans_switch_seconds=None)
    cerebro.addstrategy(HoldTarget, kind=kind, bid=round(last * 0.5, 1), faults=faults, server=server)
    cerebro.run()
    return state, cerebro.broker, hand


def check(server: EmulatorServer, state: TradingState, broker: KrakenLiveBroker, hand: str, kind: str) -> None:
    orders = list(server.exchange.orders[server.key].values())
    ours = [o for o in orders if is_own_client_id(o.cl_ord_id)]
    assert len({o.cl_ord_id for o in ours}) == len(ours), "a client order id is on the exchange twice"
    assert server.exchange.orders[server.key][hand].status == "open", "the hand-placed order was touched"
    assert broker.unsettled() == [], "an order's outcome was left unknown"
    trades = server.exchange.trades[server.key]
    assert sorted(f["trade_id"] for f in state.fills()) == sorted(trades), "a fill is missing from the state"
    held = server.exchange.accounts[server.key].balances.get("XXBT", 0.0) - BEFORE["XXBT"]
    assert state.positions().get("BTC/USD", 0.0) == pytest.approx(held, abs=1e-12), "position differs from balance"
    if kind == "market":
        assert held == pytest.approx(TARGET), "the market order was doubled or lost"
    else:
        resting = [o for o in ours if o.status == "open"]
        assert [o.volume for o in resting] == [TARGET], "not exactly one resting bid of the bot"
        assert sum(o.vol_exec for o in ours) == 0
    assert all(r["status"] in FINAL or r["status"] == "open" for r in (state.order(o.cl_ord_id) or {} for o in ours))


@pytest.mark.parametrize("kind", ["market", "limit"])
@pytest.mark.parametrize("faults", PAIRS, ids=["+".join(p) for p in PAIRS])
def test_two_faults_at_once_neither_double_nor_lose(server, faults, kind):
    state, broker, hand = run_case(server, kind, faults)
    check(server, state, broker, hand, kind)


@pytest.mark.parametrize("skew", [30.0, -30.0])
@pytest.mark.parametrize("kind", ["market", "limit"])
@pytest.mark.parametrize("faults", SKEWED, ids=[f[0] for f in SKEWED])
def test_a_client_clock_30_s_off_neither_doubles_nor_loses(server, faults, kind, skew):
    state, broker, hand = run_case(server, kind, faults, skew)
    check(server, state, broker, hand, kind)
