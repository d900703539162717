"""The emulator held to real Kraken replies, not only to the schema: the key sets and JSON types of its order,
trade, OHLC and TradeVolume replies equal those of replies recorded from Kraken.

The recorded replies below were written by hand from two sources: ccxt's recorded Kraken replies
(``ts/src/test/static/response/kraken.json`` in ccxt: QueryOrders of an open limit and a filled market order,
OpenOrders, OHLC) and the examples of Kraken's API documentation (``spot-rest/examples``: ClosedOrders,
TradesHistory, TradeVolume), with the JSON types of the real replies where the two disagree: order times and
``userref`` are strings, ``reason`` is null on an order without one, and ``count`` is a string. Values are the
sources' own; only key sets and types are compared.
"""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from kraken_global.clocks import SteppedClock
from kraken_global.emulator import EmulatorServer
from kraken_global.fees import KRAKEN_2026_07

_DESCR_LIMIT = {"pair": "LTCUSDT", "type": "buy", "ordertype": "limit", "price": "50.00000", "price2": "0",
                "leverage": "none", "order": "buy 0.10000000 LTCUSDT @ limit 50.00000", "close": ""}
_DESCR_MARKET = {**_DESCR_LIMIT, "ordertype": "market", "price": "0", "order": "buy 0.10000000 LTCUSDT @ market"}
_AMOUNTS = {"vol": "0.10000000", "vol_exec": "0.00000000", "cost": "0.000000", "fee": "0.000000",
            "price": "0.000000", "stopprice": "0.000000", "limitprice": "0.000000", "misc": ""}

RECORDED: dict[str, Any] = {
    # ccxt: fetchOrder "fetch spot limit order" (QueryOrders)
    "QueryOrders open": {"refid": None, "userref": "0", "status": "open", "opentm": "1705259439.563000",
                         "starttm": "0", "expiretm": "0", "descr": _DESCR_LIMIT, **_AMOUNTS, "oflags": "post,fciq",
                         "reason": None},
    # ccxt: fetchOrder "closed market order" (QueryOrders with trades)
    "QueryOrders filled": {"refid": None, "userref": "0", "status": "closed", "opentm": "1705260547.472000",
                           "starttm": "0", "expiretm": "0", "descr": _DESCR_MARKET,
                           **{**_AMOUNTS, "vol_exec": "0.10000000", "cost": "7.105741", "fee": "0.018475",
                              "price": "71.05741"},
                           "oflags": "fciq", "trades": ["TWA6QJ-ZO4EM-6QIHQJ"], "reason": None,
                           "closetm": "1705260547.4728658"},
    # ccxt: fetchOpenOrders (OpenOrders: no reason)
    "OpenOrders open": {"refid": None, "userref": "0", "status": "open", "opentm": "1705260203.583000",
                        "starttm": "0", "expiretm": "0", "descr": _DESCR_LIMIT, **_AMOUNTS, "oflags": "fciq"},
    # Kraken's example ClosedOrders (a cancelled limit order), with the real replies' types
    "ClosedOrders canceled": {"refid": None, "userref": "1000", "status": "canceled", "reason": "User requested",
                              "opentm": "1550101012.7873", "closetm": "1550101338.364", "starttm": "0",
                              "expiretm": "0",
                              "descr": {"pair": "DASHUSD", "type": "buy", "ordertype": "limit", "price": "1.000",
                                        "price2": "0", "leverage": "none",
                                        "order": "buy 10.00000000 DASHUSD @ limit 1.000", "close": ""},
                              "vol": "10.00000000", "vol_exec": "0.00000000", "cost": "0.000000", "fee": "0.000000",
                              "price": "0.000000", "stopprice": "0.000000", "limitprice": "0.000000", "misc": "",
                              "oflags": "fciq"},
    "ClosedOrders count": "3",
    # Kraken's example TradesHistory, a spot trade's fields (``maker`` as Kraken sends it since 2023)
    "TradesHistory trade": {"ordertxid": "OJTVFU-UWBXK-7AC6ML", "postxid": "TKH1SE-X7IF5-CKI7JT", "pair": "XXBTZUSD",
                            "time": 1428084298.0986, "type": "sell", "ordertype": "limit", "price": "9.25000",
                            "cost": "0.92500", "fee": "0.00296", "vol": "0.10000000", "margin": "0.61667",
                            "leverage": "0", "misc": "", "trade_id": 2560488, "maker": True},
    "TradesHistory count": "2",
    # ccxt: fetchOHLCV (a row and the cursor)
    "OHLC row": [1706626800, "43437.5", "43593.7", "43355.5", "43361.1", "43511.3", "18.75430110", 162],
    "OHLC last": "1706796000",
    # Kraken's example TradeVolume (a pair in the top tier: no next fee)
    "TradeVolume": {"currency": "ZUSD", "volume": "200709587.4223",
                    "fees": {"XXBTZUSD": {"fee": "0.1000", "minfee": "0.1000", "maxfee": "0.2600", "nextfee": None,
                                          "nextvolume": None, "tiervolume": "10000000.0000"}},
                    "fees_maker": {"XXBTZUSD": {"fee": "0.0000", "minfee": "0.0000", "maxfee": "0.1600",
                                                "nextfee": None, "nextvolume": None, "tiervolume": "10000000.0000"}}},
}


def shape(value: Any) -> Any:
    """Key sets and JSON types, recursively; a map keyed by ids (txids, pairs) keeps its entries' shapes only."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return {str: "string", bool: "boolean", int: "integer", float: "number", type(None): "null"}[type(value)]


def _entries(mapping: dict) -> list:
    return [shape(v) for v in mapping.values()]


@pytest.fixture(scope="module")
def replies():
    """Real Kraken situations played on the emulator through ccxt; the raw replies by name."""
    with EmulatorServer(fault_delay=0.0, exchange_clock=SteppedClock(), fees=KRAKEN_2026_07) as server:
        ex = ccxt.kraken({"apiKey": server.key, "secret": server.secret, "enableRateLimit": False})
        ex.urls["api"] = {"public": server.base_url, "private": server.base_url}
        ex.load_markets()
        resting = ex.create_order("BTC/USD", "limit", "buy", 0.01, 1000.0, {"oflags": "post"})["id"]
        filled = ex.create_order("BTC/USD", "market", "buy", 0.01)["id"]
        tagged = ex.create_order("BTC/USD", "limit", "buy", 0.01, 1000.0, {"cl_ord_id": "kg0123456789abcdef"})["id"]
        out = {"QueryOrders": ex.privatePostQueryOrders({"txid": f"{resting},{filled},{tagged}",
                                                         "trades": "true"})["result"],
               "OpenOrders": ex.privatePostOpenOrders()["result"]}
        ex.cancel_order(resting)
        out["ClosedOrders"] = ex.privatePostClosedOrders()["result"]
        out["TradesHistory"] = ex.privatePostTradesHistory()["result"]
        out["OHLC"] = ex.publicGetOHLC({"pair": "XBTUSD", "interval": 60})["result"]
        out["TradeVolume"] = ex.privatePostTradeVolume({"pair": "XBTUSD"})["result"]
        yield out, {"resting": resting, "filled": filled, "tagged": tagged}


def test_query_and_open_orders_have_the_shape_of_recorded_replies(replies):
    out, ids = replies
    queried = out["QueryOrders"]
    assert shape(queried[ids["resting"]]) == shape(RECORDED["QueryOrders open"])
    assert shape(queried[ids["filled"]]) == shape(RECORDED["QueryOrders filled"])
    assert shape(out["OpenOrders"]["open"][ids["resting"]]) == shape(RECORDED["OpenOrders open"])
    tagged = queried[ids["tagged"]]
    assert tagged.pop("cl_ord_id") == "kg0123456789abcdef"  # present only on an order that has one
    assert shape(tagged) == shape(RECORDED["QueryOrders open"])


def test_closed_orders_and_trades_have_the_shape_of_recorded_replies(replies):
    out, ids = replies
    closed = out["ClosedOrders"]
    assert shape(closed["closed"][ids["resting"]]) == shape(RECORDED["ClosedOrders canceled"])
    filled = dict(RECORDED["QueryOrders filled"])
    del filled["trades"]  # listed only when asked for (trades=true)
    assert shape(closed["closed"][ids["filled"]]) == shape(filled)
    assert shape(closed["count"]) == shape(RECORDED["ClosedOrders count"])
    history = out["TradesHistory"]
    assert _entries(history["trades"]) == [shape(RECORDED["TradesHistory trade"])]
    assert shape(history["count"]) == shape(RECORDED["TradesHistory count"])


def test_ohlc_and_trade_volume_have_the_shape_of_recorded_replies(replies):
    out, _ = replies
    ohlc = out["OHLC"]
    assert set(ohlc) == {"XXBTZUSD", "last"}
    assert {str(shape(row)) for row in ohlc["XXBTZUSD"]} == {str(shape(RECORDED["OHLC row"]))}
    assert shape(ohlc["last"]) == shape(RECORDED["OHLC last"])
    assert shape(out["TradeVolume"]) == shape(RECORDED["TradeVolume"])
