"""The Kraken emulator with the real ccxt client over HTTP on 127.0.0.1 (no internet)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import ccxt
import pytest

from kraken_global.clocks import SteppedClock
from kraken_global.emulator import EmulatorServer
from kraken_global.emulator.auth import sign

ROOT = Path(__file__).resolve().parents[1]
HOUR = 3600


@pytest.fixture
def emulator():
    with EmulatorServer(fault_delay=3.0) as server:
        yield server


def client(emulator, timeout_ms: int = 5000) -> ccxt.kraken:
    exchange = ccxt.kraken({"apiKey": emulator.key, "secret": emulator.secret, "enableRateLimit": False,
                            "timeout": timeout_ms})
    exchange.urls["api"] = {"public": emulator.base_url, "private": emulator.base_url}
    exchange.load_markets()
    return exchange


def raw_private(emulator, method: str, params: dict, nonce: int, secret: str | None = None, key=None) -> dict:
    body = urllib.parse.urlencode({"nonce": str(nonce), **params}).encode()
    path = f"/0/private/{method}"
    headers = {"API-Key": key or emulator.key, "API-Sign": sign(path, str(nonce), body, secret or emulator.secret),
               "Content-Type": "application/x-www-form-urlencoded"}
    request = urllib.request.Request(emulator.base_url + path, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


# -- protocol -----------------------------------------------------------------------------------------------

def test_signature_key_and_nonce_are_checked_like_kraken(emulator):
    assert raw_private(emulator, "Balance", {}, 100)["error"] == []
    assert raw_private(emulator, "Balance", {}, 100)["error"] == ["EAPI:Invalid nonce"]
    assert raw_private(emulator, "Balance", {}, 99)["error"] == ["EAPI:Invalid nonce"]
    wrong = "QUJD" * 22
    assert raw_private(emulator, "Balance", {}, 101, secret=wrong)["error"] == ["EAPI:Invalid signature"]
    assert raw_private(emulator, "Balance", {}, 102, key="nobody")["error"] == ["EAPI:Invalid key"]


def test_replies_use_krakens_field_names_and_types(emulator):
    ex = client(emulator)
    raw_pairs = ex.publicGetAssetPairs()["result"]["XXBTZUSD"]
    for name, kind in (("altname", str), ("wsname", str), ("base", str), ("quote", str), ("pair_decimals", int),
                       ("lot_decimals", int), ("cost_decimals", int), ("ordermin", str), ("costmin", str),
                       ("tick_size", str), ("status", str), ("fees", list), ("fees_maker", list)):
        assert isinstance(raw_pairs[name], kind), name
    time_reply = ex.publicGetTime()["result"]
    assert isinstance(time_reply["unixtime"], int) and isinstance(time_reply["rfc1123"], str)
    ohlc = ex.publicGetOHLC({"pair": "XBTUSD", "interval": 60})["result"]
    rows = ohlc["XXBTZUSD"]
    assert len(rows) == 720 and isinstance(ohlc["last"], str)  # a string in real replies
    assert [type(v) for v in rows[0]] == [int, str, str, str, str, str, str, int]
    assert rows[-1][0] == int(ohlc["last"]) + HOUR  # the last row is the candle still forming
    ticker = ex.publicGetTicker({"pair": "XXBTZUSD"})["result"]["XXBTZUSD"]
    assert set(ticker) == {"a", "b", "c", "v", "p", "t", "l", "h", "o"} and len(ticker["a"]) == 3
    balance = ex.privatePostBalanceEx()["result"]["ZUSD"]
    assert set(balance) == {"balance", "hold_trade"} and isinstance(balance["balance"], str)
    placed = ex.privatePostAddOrder({"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.01",
                                     "price": "5000.0", "userref": "7"})["result"]
    assert isinstance(placed["txid"], list) and placed["descr"]["order"] == "buy 0.01 XBTUSD @ limit 5000.0"
    order = ex.privatePostQueryOrders({"txid": placed["txid"][0], "trades": "true"})["result"][placed["txid"][0]]
    for name in ("refid", "userref", "status", "opentm", "starttm", "expiretm", "descr", "vol",
                 "vol_exec", "cost", "fee", "price", "stopprice", "limitprice", "misc", "oflags", "reason"):
        assert name in order, name
    assert "cl_ord_id" not in order  # present only when the order has one, as in real replies
    assert order["status"] == "open" and order["userref"] == "7" and isinstance(order["vol"], str)
    assert isinstance(order["opentm"], str) and order["reason"] is None
    with pytest.raises(ccxt.ExchangeError, match="EGeneral:Invalid arguments"):
        ex.publicGetOHLC({"pair": "XBTUSD", "interval": 7})
    with pytest.raises(ccxt.ExchangeError, match="EQuery:Unknown asset pair"):
        ex.publicGetTicker({"pair": "FOOUSD"})


# -- trading ------------------------------------------------------------------------------------------------

def test_market_and_limit_orders_fill_against_replayed_candles(emulator):
    ex = client(emulator)
    last = ex.fetch_ticker("BTC/USD")["last"]
    bought = ex.fetch_order(ex.create_order("BTC/USD", "market", "buy", 0.01)["id"])
    assert bought["status"] == "closed" and bought["average"] == pytest.approx(last)
    assert float(bought["fee"]["cost"]) == pytest.approx(0.01 * last * 0.0026, rel=1e-3)
    resting = ex.create_order("BTC/USD", "limit", "buy", 0.01, round(last * 0.97, 1))
    assert [o["id"] for o in ex.fetch_open_orders()] == [resting["id"]]
    assert ex.fetch_balance()["USD"]["used"] > 0  # funds held for the open order
    emulator.advance(10 * 24 * HOUR)
    filled = ex.fetch_order(resting["id"])
    assert filled["status"] == "closed" and filled["average"] == pytest.approx(round(last * 0.97, 1))
    trades = ex.fetch_my_trades()
    assert [t["takerOrMaker"] for t in trades] == ["taker", "maker"]
    assert ex.fetch_balance()["BTC"]["total"] == pytest.approx(0.02)


def test_krakens_order_errors(emulator):
    ex = client(emulator)
    with pytest.raises(ccxt.InvalidOrder, match="EOrder:Order minimum not met"):
        ex.privatePostAddOrder({"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.00001"})
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("BTC/USD", "market", "buy", 5)
    with pytest.raises(ccxt.ExchangeError, match="EOrder:Invalid price"):
        ex.privatePostAddOrder({"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.01",
                                "price": "5000.05"})
    with pytest.raises(ccxt.ExchangeError, match="EOrder:Post only order"):
        ex.privatePostAddOrder({"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.01",
                                "price": "99999.0", "oflags": "post"})
    validated = ex.privatePostAddOrder({"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.01",
                                        "validate": "true"})["result"]
    assert "txid" not in validated and ex.fetch_open_orders() == [] and ex.fetch_my_trades() == []
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order("OXXXXX-XXXXX-XXXXXX")


def test_dead_mans_switch_cancels_everything_when_not_refreshed():
    kraken = SteppedClock()  # Kraken's clock, moved by hand (the switch runs on it, not on the replayed market)
    with EmulatorServer(exchange_clock=kraken) as emulator:
        ex = client(emulator)
        ex.create_order("BTC/USD", "limit", "buy", 0.01, 1000.0)
        reply = ex.privatePostCancelAllOrdersAfter({"timeout": 60})["result"]
        assert reply["triggerTime"] != "0"
        emulator.advance(30 * 24 * HOUR)  # the market replays a month: Kraken's clock does not care
        kraken.advance(30)
        ex.privatePostCancelAllOrdersAfter({"timeout": 60})  # refreshed in time: nothing happens
        kraken.advance(45)
        assert len(ex.fetch_open_orders()) == 1
        kraken.advance(30)
        assert ex.fetch_open_orders() == []
        assert ex.fetch_closed_orders()[0]["status"] == "canceled"


# -- faults -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "error"), [
    ("http_500", ccxt.ExchangeNotAvailable), ("unavailable", ccxt.ExchangeNotAvailable),
    ("rate_limit", ccxt.DDoSProtection), ("timeout", ccxt.RequestTimeout),
])
def test_each_fault_reaches_ccxt_as_its_error_and_changes_nothing(emulator, kind, error):
    ex = client(emulator, timeout_ms=1200)
    emulator.faults.add("AddOrder", kind)
    with pytest.raises(error):
        ex.create_order("BTC/USD", "market", "buy", 0.01)
    assert ex.fetch_my_trades() == [] and ex.fetch_balance()["USD"]["total"] == 10_000.0


def test_a_lost_response_leaves_the_order_placed_and_findable_by_client_id(emulator):
    ex = client(emulator, timeout_ms=1200)
    emulator.faults.add("AddOrder", "lost_response")
    with pytest.raises(ccxt.RequestTimeout):
        ex.create_order("BTC/USD", "limit", "buy", 0.01, 1000.0, params={"cl_ord_id": "kg-00000001"})
    time.sleep(0.5)  # the emulator finishes the request after the client gave up
    found = ex.privatePostOpenOrders({"cl_ord_id": "kg-00000001"})["result"]["open"]
    assert len(found) == 1
    with pytest.raises(ccxt.ExchangeError, match="EGeneral:Invalid arguments:cl_ord_id"):  # open: in use
        ex.create_order("BTC/USD", "limit", "buy", 0.01, 1000.0, params={"cl_ord_id": "kg-00000001"})
    assert len(ex.fetch_open_orders()) == 1


# -- the command -------------------------------------------------------------------------------------------

def test_the_emulator_command_serves_and_keeps_its_secret_out_of_its_output(tmp_path):
    credentials = tmp_path / "creds.json"
    process = subprocess.Popen([sys.executable, "-m", "kraken_global.cli", "emulator", "--port", "0",
                                "--credentials", str(credentials), "--speed", "1"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, cwd=ROOT, start_new_session=True)
    try:
        line = process.stdout.readline()
        assert "Kraken emulator on http://127.0.0.1:" in line
        stored = json.loads(credentials.read_text())
        assert oct(credentials.stat().st_mode & 0o777) == "0o600"
        assert stored["secret"] not in line and stored["key"] not in line
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # never leave it running
            raise
    assert process.returncode == 0, output
    assert stored["secret"] not in (output or "")
    credentials.chmod(0o644)
    refused = subprocess.run([sys.executable, "-m", "kraken_global.cli", "emulator", "--credentials",
                              str(credentials)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert refused.returncode == 2 and "readable by others" in refused.stderr
