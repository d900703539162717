"""The emulator refuses what Kraken refuses, with Kraken's error strings, and its own controls refuse nonsense.

Covers: malformed requests (never an HTTP 500), ``cl_ord_id`` formats, lot and price precision, pair rules that
differ from the bundled file, OHLC ``since``, API-key permissions, the controls and CLI options, and fills priced
from the bar's path.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import ccxt
import pandas as pd
import pytest

from kraken_global.cli import main
from kraken_global.emulator import EmulatorServer
from kraken_global.emulator.fills import path_mean
from kraken_global.emulator.permissions import CANCEL, QUERY_FUNDS, QUERY_OPEN
from kraken_global.fees import KRAKEN_PRO
from tests.kraken_contract import check_reply
from tests.test_emulator_contract import Raw, client

HOUR = 3600
BUY = {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.01"}


@pytest.fixture(scope="module")
def shared():
    with EmulatorServer() as server:
        yield server


@pytest.fixture(scope="module")
def raw(shared):
    return Raw(shared)


@pytest.mark.parametrize(("params", "error"), [
    ({**BUY, "volume": "nan"}, "EGeneral:Invalid arguments:volume"),
    ({**BUY, "volume": "-0.01"}, "EGeneral:Invalid arguments:volume"),
    ({**BUY, "volume": "0"}, "EGeneral:Invalid arguments:volume"),
    ({**BUY, "volume": "Infinity"}, "EGeneral:Invalid arguments:volume"),
    ({**BUY, "volume": "0.123456789"}, "EGeneral:Invalid arguments:volume"),  # 9 decimals, lot_decimals 8
    ({**BUY, "volume": "lots"}, "EGeneral:Invalid arguments:volume"),
    ({**BUY, "userref": "seven"}, "EGeneral:Invalid arguments:userref"),
    ({**BUY, "userref": str(2**31)}, "EGeneral:Invalid arguments:userref"),
    ({**BUY, "cl_ord_id": "x" * 19}, "EGeneral:Invalid arguments:cl_ord_id"),
    ({**BUY, "cl_ord_id": "0123456789abcdef0123456789abcdef01234567"}, "EGeneral:Invalid arguments:cl_ord_id"),
    ({**BUY, "cl_ord_id": "ordre-été"}, "EGeneral:Invalid arguments:cl_ord_id"),
    ({**BUY, "cl_ord_id": "kg-1", "userref": "1"}, "EGeneral:Invalid arguments:cl_ord_id"),
    ({**BUY, "oflags": "post,rocket"}, "EGeneral:Invalid arguments:oflags"),
    ({**BUY, "type": "hold"}, "EGeneral:Invalid arguments:type"),
    ({**BUY, "ordertype": "moon"}, "EGeneral:Invalid arguments:ordertype"),
    ({**BUY, "pair": "FOOUSD"}, "EQuery:Unknown asset pair"),
    ({k: v for k, v in BUY.items() if k != "volume"}, "EGeneral:Invalid arguments:volume"),
    ({k: v for k, v in BUY.items() if k != "pair"}, "EGeneral:Invalid arguments:pair"),
    ({**BUY, "ordertype": "limit"}, "EGeneral:Invalid arguments:price"),
    ({**BUY, "ordertype": "limit", "price": "5000.05"},
     "EOrder:Invalid price:XBTUSD price can only be specified up to 1 decimals."),
    ({**BUY, "ordertype": "limit", "price": "-5"}, "EGeneral:Invalid arguments:price"),
])
def test_bad_orders_get_krakens_error_not_a_crash(raw, params, error):
    reply = raw.private("AddOrder", params)
    assert reply == {"error": [error]}
    check_reply("AddOrder", reply)


def test_malformed_requests_get_krakens_envelope(shared, raw):
    nonce = str(raw.nonce + 1).encode()
    assert raw.private("AddOrder", body=b"nonce=" + nonce + b"&pair=XBT\xff\xfeUSD") == \
        {"error": ["EGeneral:Invalid arguments"]}
    assert raw.private("CancelAllOrdersAfter", {"timeout": "soon"}) == \
        {"error": ["EGeneral:Invalid arguments:timeout"]}
    assert raw.private("CancelOrder", {}) == {"error": ["EGeneral:Invalid arguments:txid"]}
    for query, error in (({"pair": "XBTUSD", "interval": "sixty"}, "EGeneral:Invalid arguments:interval"),
                         ({"pair": "XBTUSD", "interval": "7"}, "EGeneral:Invalid arguments:interval"),
                         ({"pair": "XBTUSD", "since": "yesterday"}, "EGeneral:Invalid arguments:since"),
                         ({"interval": "60"}, "EGeneral:Invalid arguments:pair")):
        assert raw.public("OHLC", query) == {"error": [error]}


@pytest.mark.parametrize("cl_ord_id", ["6d1b345e-2821-40e2-ad83-4ecb18a06876", "da8e4ad59b78481c93e589746b0cf91f",
                                       "arb-20240509-00010"])
def test_cl_ord_id_takes_krakens_three_formats_and_is_unique_among_open_orders_only(cl_ord_id):
    with EmulatorServer() as server:
        cl_ord_id_rules(client(server), cl_ord_id)


def cl_ord_id_rules(ex: ccxt.kraken, cl_ord_id: str) -> None:
    order = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.01", "price": "1000.0",
             "cl_ord_id": cl_ord_id}
    first = ex.privatePostAddOrder(order)["result"]["txid"][0]
    with pytest.raises(ccxt.ExchangeError, match="EGeneral:Invalid arguments:cl_ord_id"):
        ex.privatePostAddOrder(order)
    ex.cancel_order(first)
    assert ex.privatePostAddOrder(order)["result"]["txid"][0] != first  # closed: the id may be used again


def test_ohlc_honours_since_and_returns_the_cursor(shared, raw):
    full = raw.public("OHLC", {"pair": "XBTUSD", "interval": "60"})["result"]
    rows, last = full["XXBTZUSD"], full["last"]
    assert len(rows) == 720 and last == str(rows[-2][0])  # a string in real replies
    since = rows[-5][0]
    recent = raw.public("OHLC", {"pair": "XBTUSD", "interval": "60", "since": str(since)})["result"]
    assert [r[0] for r in recent["XXBTZUSD"]] == [r[0] for r in rows[-4:]] and recent["last"] == last
    polled = raw.public("OHLC", {"pair": "XBTUSD", "interval": "60", "since": str(last)})["result"]
    assert [r[0] for r in polled["XXBTZUSD"]] == [rows[-1][0]]  # only the forming candle: nothing new
    ancient = raw.public("OHLC", {"pair": "XBTUSD", "interval": "60", "since": "0"})["result"]
    assert len(ancient["XXBTZUSD"]) == 720  # never more than the latest 720


def test_a_key_without_a_permission_is_denied_as_kraken_does():
    with EmulatorServer(permissions=frozenset({QUERY_FUNDS, QUERY_OPEN, CANCEL})) as server:
        raw = Raw(server)
        assert raw.private("Balance")["error"] == []
        assert raw.private("OpenOrders")["error"] == []
        assert raw.private("AddOrder", BUY) == {"error": ["EGeneral:Permission denied"]}
        assert raw.private("ClosedOrders") == {"error": ["EGeneral:Permission denied"]}
        assert raw.private("TradesHistory") == {"error": ["EGeneral:Permission denied"]}
        assert raw.private("CancelAll")["error"] == []
    with EmulatorServer(permissions=frozenset()) as server:
        assert Raw(server).private("BalanceEx") == {"error": ["EGeneral:Permission denied"]}


def test_pair_rules_can_differ_from_the_bundled_file(tmp_path):
    rules = tmp_path / "pairs.json"
    rules.write_text(json.dumps({"result": {"XXBTZUSD": {"ordermin": "0.001", "tick_size": "0.5",
                                                         "lot_decimals": 4}}}))
    with EmulatorServer(asset_pairs=rules) as server:
        raw = Raw(server)
        pair = raw.public("AssetPairs", {"pair": "XBTUSD"})["result"]["XXBTZUSD"]
        assert (pair["ordermin"], pair["tick_size"], pair["lot_decimals"]) == ("0.001", "0.5", 4)
        assert raw.private("AddOrder", {**BUY, "volume": "0.0008"}) == {"error": ["EOrder:Order minimum not met"]}
        assert raw.private("AddOrder", {**BUY, "volume": "0.00015"}) == {"error": ["EGeneral:Invalid arguments:volume"]}
        limit = {**BUY, "ordertype": "limit", "volume": "0.01"}
        assert raw.private("AddOrder", {**limit, "price": "5000.3"}) == {"error": ["EOrder:Tick size check failed"]}
        assert raw.private("AddOrder", {**limit, "price": "5000.5"})["error"] == []


@pytest.mark.parametrize(("path", "body", "message"), [
    ("clock", {"advance_seconds": -60}, "advance_seconds must be finite, >= 0"),
    ("clock", {"advance_seconds": "NaN"}, "advance_seconds must be a number"),
    ("clock", {"advance_seconds": 1e12}, "advance_seconds must be finite"),
    ("clock", {"exchange_seconds": 60}, "this emulator runs on the machine's clock"),
    ("faults", {"endpoint": "OpenOrders", "kind": "rate_limit", "second_fault": {"kind": "query_lag",
                                                                                "seconds": 5}},
     "applies to AddOrder only"),
    ("faults", {"endpoint": "AddOrder", "kind": "lost_response", "second_fault": "query_lag"},
     "second_fault must be"),
    ("faults", {"endpoint": "AddOrder", "kind": "timeout", "count": 1_000_000_000}, "count must be a whole number"),
    ("faults", {"endpoint": "AddOrder", "kind": "timeout", "count": -1}, "count must be a whole number"),
    ("faults", {"endpoint": "AddOrder", "kind": "meteor"}, "unknown fault kind"),
    ("faults", {"kind": "timeout"}, "endpoint must name a Kraken method"),
    ("faults", [1, 2], "must be a JSON object"),
])
def test_the_emulator_controls_refuse_nonsense_with_one_line(shared, path, body, message):
    before = shared.clock.now()
    request = urllib.request.Request(f"{shared.base_url}/_emulator/{path}", data=json.dumps(body).encode(),
                                     method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    reply = json.loads(refused.value.read())
    assert refused.value.code == 400 and len(reply["error"]) == 1 and message in reply["error"][0]
    assert "\n" not in reply["error"][0] and shared.clock.now() == before and not shared.faults._queue


@pytest.mark.parametrize(("option", "message"), [  # --speed 0 is valid: a paused clock
    (["--speed", "nan"], "nan is not a speed"), (["--speed", "inf"], "inf is not a speed"),
    (["--speed", "-2"], "-2 is not a speed"), (["--port", "70000"], "70000 is not a port"),
    (["--usd", "-1"], "--usd must be finite, >= 0"), (["--start", "2030-01-01"], "outside the replayed candles"),
    (["--permissions", "withdraw"], "unknown API-key permission withdraw"),
    (["--fees", "free"], "--fees must be one of"), (["--fills", "instant"], "--fills must be one of"),
    (["--clock-skew", "nan"], "--clock-skew must be finite"), (["--clock-skew", "7200"], "<= 3600"),
    (["--host", "example.com"], "--host must be an IP address to listen on"),
])
def test_the_emulator_command_refuses_nonsense_with_one_line(tmp_path, capsys, option, message):
    try:
        code = main(["emulator", "--credentials", str(tmp_path / "c.json"), *option])
    except SystemExit as exc:  # argument types are refused by argparse itself, as one line
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "c.json").exists()


def test_a_bad_asset_pairs_file_is_refused_with_one_line(tmp_path, capsys):
    bad = tmp_path / "pairs.json"
    bad.write_text(json.dumps({"XXBTZUSD": {"ordermin": "-1"}}))
    assert main(["emulator", "--credentials", str(tmp_path / "c.json"), "--asset-pairs", str(bad)]) == 2
    assert "XXBTZUSD.ordermin must be a finite number >= 0" in capsys.readouterr().err
    bad.write_text(json.dumps({"FOOUSD": {"ordermin": "1"}}))
    assert main(["emulator", "--credentials", str(tmp_path / "c.json"), "--asset-pairs", str(bad)]) == 2
    assert "unknown pair 'FOOUSD'" in capsys.readouterr().err


# -- fills along the bar's path ------------------------------------------------------------------------------

def test_the_path_mean_follows_open_extremes_close():
    # a rising bar: open 100 -> low 90 -> high 110 -> close 105, corners at thirds
    assert path_mean(100, 110, 90, 105, 0.0, 1.0) == pytest.approx((95 + 100 + 107.5) / 3)
    assert path_mean(100, 110, 90, 105, 0.0, 1 / 3) == pytest.approx(95)
    assert path_mean(100, 110, 90, 95, 0.0, 1 / 3) == pytest.approx(105)  # a falling bar peaks first


def test_path_fills_are_partial_priced_inside_each_bar_and_charged_current_fees():
    with EmulatorServer(fills="path", participation=0.001, fees=KRAKEN_PRO) as server:
        ex = client(server)
        frame = server.market.candles["XXBTZUSD"]
        order = ex.create_order("BTC/USD", "market", "buy", 1.0)
        assert ex.fetch_order(order["id"])["filled"] == 0  # it works through the bars; nothing at once
        seen: set[str] = set()
        for _ in range(4 * 8):
            before = pd.Timestamp(server.clock.now())
            after = pd.Timestamp(server.advance(15 * 60))
            # trades are stamped by Kraken's clock: those that came with this step traded in the bars it spanned
            spanned = frame[(frame.index + pd.Timedelta(hours=1) > before) & (frame.index <= after)]
            for trade in (t for t in ex.fetch_my_trades() if t["id"] not in seen):
                seen.add(trade["id"])
                assert spanned["low"].min() - 0.1 <= trade["price"] <= spanned["high"].max() + 0.1
            if ex.fetch_order(order["id"])["status"] == "closed":
                break
        done = ex.fetch_order(order["id"])
        trades = ex.fetch_my_trades()
        assert done["status"] == "closed" and len(trades) > 2
        assert sum(t["amount"] for t in trades) == pytest.approx(1.0)
        for trade in trades:
            assert trade["fee"]["cost"] == pytest.approx(trade["cost"] * 0.004, rel=1e-3)  # Kraken Pro taker
        assert len({t["price"] for t in trades}) > 1
        assert ex.fetch_balance()["BTC"]["total"] == pytest.approx(1.0)
