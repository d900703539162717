"""Every reply the emulator gives, held to Kraken's official OpenAPI specification (see tests/kraken_contract.py).

A recorder on the emulator keeps each reply of a session that calls every endpoint the project uses (through real
ccxt, as the store does, and raw for the error cases), and each one is validated: field names, types (decimals
are strings), the envelope, the enumerations and the documented error strings.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import ccxt
import pytest
from aiohttp import web

from kraken_global.emulator import EmulatorServer
from kraken_global.emulator import exchange as exchange_module
from kraken_global.emulator.auth import sign
from tests.kraken_contract import ContractError, check_reply

HOUR = 3600
#: Every Kraken method the project (store, broker, feed via ccxt) calls, and the others the emulator serves.
PROJECT_METHODS = {"Time", "Assets", "AssetPairs", "OHLC", "Ticker", "BalanceEx", "AddOrder", "CancelOrder",
                   "CancelAll", "CancelAllOrdersAfter", "QueryOrders", "OpenOrders", "ClosedOrders",
                   "TradesHistory", "TradeVolume", "Trades", "Depth", "Balance"}


def recording(server: EmulatorServer) -> list[tuple[str, dict]]:
    """Record (method, decoded body) of every Kraken reply the server sends from now on."""
    replies: list[tuple[str, dict]] = []
    build = server.app.build

    @web.middleware
    async def record(request, handler):
        response = await handler(request)
        if request.path.startswith("/0/") and response.status == 200:
            replies.append((request.match_info.get("method", request.path), json.loads(response.body)))
        return response

    def build_with_recorder() -> web.Application:
        app = build()
        app.middlewares.append(record)
        return app

    server.app.build = build_with_recorder
    return replies


@pytest.fixture
def recorded():
    server = EmulatorServer(fault_delay=3.0)
    replies = recording(server)
    with server:
        yield server, replies


def client(server: EmulatorServer) -> ccxt.kraken:
    ex = ccxt.kraken({"apiKey": server.key, "secret": server.secret, "enableRateLimit": False, "timeout": 5000})
    ex.urls["api"] = {"public": server.base_url, "private": server.base_url}
    ex.load_markets()
    return ex


class Raw:
    """Signed requests as bytes, for what ccxt would never send."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.nonce = 10**15

    def private(self, method: str, params: dict | None = None, body: bytes | None = None) -> dict:
        self.nonce += 1
        if body is None:
            body = urllib.parse.urlencode({"nonce": str(self.nonce), **(params or {})}).encode()
        path = f"/0/private/{method}"
        headers = {"API-Key": self.server.key, "API-Sign": sign(path, str(self.nonce), body, self.server.secret),
                   "Content-Type": "application/x-www-form-urlencoded"}
        request = urllib.request.Request(self.server.base_url + path, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def public(self, method: str, params: dict | None = None) -> dict:
        query = urllib.parse.urlencode(params or {})
        with urllib.request.urlopen(f"{self.server.base_url}/0/public/{method}?{query}", timeout=10) as response:
            return json.loads(response.read())


def trading_session(server: EmulatorServer) -> None:
    """Call every endpoint the project uses, the way the project calls it, with fills, cancels and errors."""
    ex = client(server)
    ex.fetch_time()
    ex.fetch_ohlcv("BTC/USD", "1h")
    ex.fetch_ohlcv("ETH/USD", "1d", since=1_550_000_000_000)
    ex.fetch_ticker("BTC/USD")
    ex.fetch_trades("BTC/USD")
    ex.fetch_order_book("BTC/USD")
    ex.privatePostBalance()
    ex.fetch_balance()
    ex.fetch_trading_fee("BTC/USD")
    ex.privatePostCancelAllOrdersAfter({"timeout": 60})
    bought = ex.create_order("BTC/USD", "market", "buy", 0.01, None, {"cl_ord_id": "kg-contract-01"})
    ex.fetch_order(bought["id"])
    last = ex.fetch_ticker("BTC/USD")["last"]
    resting = ex.create_order("BTC/USD", "limit", "buy", 0.01, round(last * 0.97, 1))
    far = ex.create_order("BTC/USD", "limit", "sell", 0.005, round(last * 3, 1), {"oflags": "post"})
    ex.fetch_open_orders()
    ex.privatePostOpenOrders({"cl_ord_id": "kg-contract-01"})
    ex.cancel_order(far["id"])
    server.advance(10 * 24 * HOUR)
    ex.fetch_order(resting["id"])
    ex.fetch_closed_orders()
    ex.fetch_my_trades()
    ex.fetch_balance()
    ex.create_order("ETH/USD", "limit", "buy", 0.05, 10.0)
    ex.cancel_all_orders()
    ex.privatePostCancelAllOrdersAfter({"timeout": 0})
    for call in (lambda: ex.create_order("BTC/USD", "market", "buy", 50),
                 lambda: ex.cancel_order("OXXXXX-XXXXX-XXXXXX"),
                 lambda: ex.fetch_order("OXXXXX-XXXXX-XXXXXX"),
                 lambda: ex.privatePostAddOrder({"pair": "XBTUSD", "type": "buy", "ordertype": "market",
                                                 "volume": "0.00001"})):
        with pytest.raises(ccxt.BaseError):
            call()
    raw = Raw(server)
    for method, params in (("Ticker", {"pair": "FOOUSD"}), ("OHLC", {"pair": "XBTUSD", "interval": "7"}),
                           ("OHLC", {"pair": "XBTUSD", "interval": "sixty"}), ("AssetPairs", {"pair": "XBTUSD"}),
                           ("OHLC", {"pair": "XBTUSD", "interval": "60", "since": "nope"})):
        raw.public(method, params)
    for params in ({"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "nan"},
                   {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "-1"},
                   {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0"},
                   {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.001", "userref": "x"},
                   {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.001"},
                   {"pair": "XBTUSD", "type": "hold", "ordertype": "market", "volume": "0.001"},
                   {"pair": "XBTUSD", "type": "buy", "ordertype": "market"},
                   {"pair": "NOPE", "type": "buy", "ordertype": "market", "volume": "0.001"}):
        raw.private("AddOrder", params)
    raw.private("AddOrder", body=b"nonce=" + str(raw.nonce + 1).encode() + b"&pair=\xff\xfe")
    raw.private("CancelOrder", {})
    raw.private("CancelAllOrdersAfter", {"timeout": "soon"})
    raw.private("Balance", {})
    raw.private("QueryOrders", {"txid": "OXXXXX-XXXXX-XXXXXX"})


def test_every_reply_the_emulator_gives_follows_krakens_specification(recorded):
    server, replies = recorded
    trading_session(server)
    assert {method for method, _ in replies} >= PROJECT_METHODS
    assert any(reply["error"] for _, reply in replies) and any(not reply["error"] for _, reply in replies)
    broken = []
    for method, reply in replies:
        try:
            check_reply(method, reply)
        except ContractError as exc:
            broken.append(str(exc))
    assert not broken, "\n".join(broken)


def test_a_float_price_in_a_reply_breaks_the_contract(recorded, monkeypatch):
    server, replies = recorded
    describe = exchange_module.Exchange.describe

    def describe_with_float_price(self, order, *args):
        out = describe(self, order, *args)
        out["price"] = float(out["price"])  # Kraken sends decimals as strings
        return out

    monkeypatch.setattr(exchange_module.Exchange, "describe", describe_with_float_price)
    ex = client(server)
    ex.create_order("BTC/USD", "limit", "buy", 0.01, 1000.0)
    ex.fetch_open_orders()
    method, reply = next((m, r) for m, r in replies if m == "OpenOrders")
    with pytest.raises(ContractError, match=r"price.*is not of type 'string'"):
        check_reply(method, reply)


def test_the_validator_rejects_invented_fields_and_undocumented_errors():
    with pytest.raises(ContractError, match="Additional properties"):
        check_reply("Time", {"error": [], "result": {"unixtime": 1, "rfc1123": "x", "zone": "UTC"}})
    with pytest.raises(ContractError, match="not an error Kraken documents"):
        check_reply("AddOrder", {"error": ["EOrder:Duplicate order"]})
    with pytest.raises(ContractError, match="only 'error'"):
        check_reply("AddOrder", {"error": ["EOrder:Unknown order"], "result": {}})
