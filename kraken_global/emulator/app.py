"""The aiohttp application: Kraken's REST paths and reply shapes over the emulated exchange.

Public ``GET /0/public/<Method>``, private ``POST /0/private/<Method>`` (form body with ``nonce``, headers
``API-Key`` and ``API-Sign``). Every reply is HTTP 200 ``{"error": [...], "result": ...}`` unless a fault says
otherwise. ``/_emulator/...`` holds the controls (clock, faults), which Kraken of course does not have.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from kraken_global.emulator.auth import NonceBook, signature_ok
from kraken_global.emulator.exchange import Exchange, KrakenError, epoch
from kraken_global.emulator.faults import FaultPlan
from kraken_global.emulator.trades import TradeTape
from kraken_global.universe import asset_pairs_payload

INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
ASSET_DECIMALS = {"ZUSD": 4}


def _ok(result: Any) -> web.Response:
    return web.json_response({"error": [], "result": result})


def _error(message: str) -> web.Response:
    return web.json_response({"error": [message]})


class EmulatorApp:
    def __init__(self, exchange: Exchange, faults: FaultPlan, fault_delay: float = 10.0) -> None:
        self.exchange = exchange
        self.faults = faults
        self.fault_delay = fault_delay
        self.nonces = NonceBook()
        self.requests: list[str] = []

    def build(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/0/public/{method}", self.public)
        app.router.add_post("/0/private/{method}", self.private)
        app.router.add_get("/_emulator/state", self.state)
        app.router.add_post("/_emulator/clock", self.move_clock)
        app.router.add_post("/_emulator/faults", self.add_fault)
        return app

    # -- dispatch with faults ------------------------------------------------------------------------------

    async def _with_faults(self, method: str, handler) -> web.Response:
        fault = self.faults.take(method)
        if fault is not None:
            if fault.kind == "http_500":
                return web.Response(status=500, text="Internal Server Error")
            if fault.kind == "unavailable":
                return _error("EService:Unavailable")
            if fault.kind == "rate_limit":
                return _error("EAPI:Rate limit exceeded")
            if fault.kind == "timeout":
                await asyncio.sleep(self.fault_delay)
                return _error("EService:Unavailable")
        try:
            response = _ok(handler())
        except KrakenError as exc:
            response = _error(str(exc))
        if fault is not None and fault.kind == "lost_response":
            await asyncio.sleep(self.fault_delay)  # done, but the client gives up before the answer
        return response

    async def public(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.requests.append(method)
        handler = getattr(self, f"public_{method}", None)
        if handler is None:
            return _error("EGeneral:Unknown method")
        query = dict(request.query)
        return await self._with_faults(method, lambda: handler(query))

    async def private(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.requests.append(method)
        body = await request.read()
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        key = request.headers.get("API-Key", "")
        account = self.exchange.accounts.get(key)
        if account is None:
            return _error("EAPI:Invalid key")
        if not signature_ok(request.path, params.get("nonce", ""), body, account.secret,
                            request.headers.get("API-Sign", "")):
            return _error("EAPI:Invalid signature")
        if not self.nonces.accept(key, params.get("nonce", "")):
            return _error("EAPI:Invalid nonce")
        handler = getattr(self, f"private_{method}", None)
        if handler is None:
            return _error("EGeneral:Unknown method")
        params.pop("nonce", None)
        return await self._with_faults(method, lambda: handler(key, params))

    # -- public --------------------------------------------------------------------------------------------

    def public_Time(self, _q) -> dict:
        now = self.exchange.clock.now()
        return {"unixtime": int(epoch(now)), "rfc1123": format_datetime(now.replace(tzinfo=None), usegmt=False)}

    def public_Assets(self, _q) -> dict:
        out = {}
        for rules in self.exchange.market.rules.values():
            for asset, alt in ((rules.base, rules.base_currency.replace("BTC", "XBT").replace("DOGE", "XDG")),
                               (rules.quote, "USD")):
                out[asset] = {"aclass": "currency", "altname": alt, "decimals": ASSET_DECIMALS.get(asset, 10),
                              "display_decimals": 5, "status": "enabled"}
        return out

    def public_AssetPairs(self, query) -> dict:
        payload = asset_pairs_payload()
        wanted = set(query["pair"].split(",")) if query.get("pair") else None
        out = {}
        for pid in self.exchange.market.rules:
            entry = payload[pid]
            if wanted and not wanted & {pid, entry["altname"]}:
                continue
            out[pid] = {
                "altname": entry["altname"], "wsname": entry["wsname"], "aclass_base": "currency",
                "base": entry["base"], "aclass_quote": "currency", "quote": entry["quote"], "lot": "unit",
                "cost_decimals": entry["cost_decimals"], "pair_decimals": entry["pair_decimals"],
                "lot_decimals": entry["lot_decimals"], "lot_multiplier": 1, "leverage_buy": [], "leverage_sell": [],
                "fees": [], "fees_maker": [], "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40,
                "ordermin": entry["ordermin"], "costmin": entry["costmin"], "tick_size": entry["tick_size"],
                "status": entry["status"],
            }
        return out

    def _pair(self, query) -> str:
        return self.exchange.rules(query.get("pair", "")).pair_id

    def public_Ticker(self, query) -> dict:
        self.exchange.sync()
        out = {}
        now = self.exchange.clock.now()
        for name in query.get("pair", "").split(","):
            pid = self.exchange.rules(name).pair_id
            rules = self.exchange.market.rules[pid]
            last = self.exchange.market.last_price(pid, now)
            candle = self.exchange.market.ohlc(pid, now, 60).iloc[-1]
            fmt = f".{rules.pair_decimals}f"
            ask, bid = format(last + rules.tick_size, fmt), format(last, fmt)
            out[pid] = {"a": [ask, "1", "1.000"], "b": [bid, "1", "1.000"], "c": [format(last, fmt), "0.1"],
                        "v": [f"{candle['volume']:.8f}"] * 2, "p": [format(last, fmt)] * 2, "t": [100, 100],
                        "l": [format(candle["low"], fmt)] * 2, "h": [format(candle["high"], fmt)] * 2,
                        "o": format(candle["open"], fmt)}
        return out

    def public_OHLC(self, query) -> dict:
        pid = self._pair(query)
        interval = int(query.get("interval", 1))
        if interval not in INTERVALS:
            raise KrakenError("EGeneral:Invalid arguments")
        rules = self.exchange.market.rules[pid]
        frame = self.exchange.market.ohlc(pid, self.exchange.clock.now(), interval)
        fmt = f".{rules.pair_decimals}f"
        rows = [[int(epoch(t)), format(r.open, fmt), format(r.high, fmt), format(r.low, fmt), format(r.close, fmt),
                 format(r.close, fmt), f"{r.volume:.8f}", 1] for t, r in frame.iterrows()]
        return {pid: rows, "last": rows[-2][0] if len(rows) > 1 else 0}

    def public_Trades(self, query) -> dict:
        return TradeTape(self.exchange.market).page(self._pair(query), self.exchange.clock.now(),
                                                    query.get("since"), query.get("count"))

    def public_Depth(self, query) -> dict:
        pid = self._pair(query)
        rules = self.exchange.market.rules[pid]
        last = self.exchange.market.last_price(pid, self.exchange.clock.now())
        stamp = int(epoch(self.exchange.clock.now()))
        return {pid: {"asks": [[f"{last + rules.tick_size * (i + 1)}", "1.000", stamp] for i in range(10)],
                      "bids": [[f"{last - rules.tick_size * i}", "1.000", stamp] for i in range(10)]}}

    # -- private ---------------------------------------------------------------------------------------------

    def private_Balance(self, key, _p) -> dict:
        self.exchange.sync()
        return {asset: f"{amount:.8f}" for asset, amount in self.exchange.accounts[key].balances.items()}

    def private_BalanceEx(self, key, _p) -> dict:
        self.exchange.sync()
        balances = self.exchange.accounts[key].balances
        return {asset: {"balance": f"{amount:.8f}",
                        "hold_trade": f"{amount - self.exchange.available(key, asset):.8f}"}
                for asset, amount in balances.items()}

    def private_AddOrder(self, key, params) -> dict:
        return self.exchange.add_order(key, params)

    def private_CancelOrder(self, key, params) -> dict:
        ref = params.get("txid") or params.get("cl_ord_id") or params.get("userref")
        if not ref:
            raise KrakenError("EGeneral:Invalid arguments:txid")
        return self.exchange.cancel(key, ref)

    def private_CancelAll(self, key, _p) -> dict:
        return self.exchange.cancel_all(key)

    def private_CancelAllOrdersAfter(self, key, params) -> dict:
        try:
            timeout = int(params.get("timeout", ""))
        except ValueError:
            raise KrakenError("EGeneral:Invalid arguments:timeout") from None
        return self.exchange.cancel_all_after(key, timeout)

    def _orders(self, key: str, status: set[str], params) -> dict:
        self.exchange.sync()
        userref = params.get("userref")
        cl_ord_id = params.get("cl_ord_id")
        out = {}
        for txid, order in self.exchange.orders[key].items():
            if order.status not in status:
                continue
            if userref is not None and str(order.userref) != userref:
                continue
            if cl_ord_id is not None and order.cl_ord_id != cl_ord_id:
                continue
            out[txid] = self.exchange.describe(order, params.get("trades") in ("true", "True"))
        return out

    def private_OpenOrders(self, key, params) -> dict:
        return {"open": self._orders(key, {"open"}, params)}

    def private_ClosedOrders(self, key, params) -> dict:
        closed = self._orders(key, {"closed", "canceled", "expired"}, params)
        return {"closed": dict(list(closed.items())[-50:]), "count": len(closed)}

    def private_QueryOrders(self, key, params) -> dict:
        self.exchange.sync()
        out = {}
        refs = [r for r in params.get("txid", "").split(",") if r]
        if params.get("userref"):
            refs.append(params["userref"])
        if params.get("cl_ord_id"):
            refs.append(params["cl_ord_id"])
        for ref in refs:
            for order in self.exchange.find(key, ref):
                out[order.txid] = self.exchange.describe(order, True)
        if not out:
            raise KrakenError("EOrder:Unknown order")
        return out

    def private_TradesHistory(self, key, _p) -> dict:
        self.exchange.sync()
        trades = self.exchange.trades[key]
        return {"trades": dict(trades), "count": len(trades)}

    def private_TradeVolume(self, key, params) -> dict:
        maker, taker = self.exchange.fee_rates(key)
        pairs = [self.exchange.rules(p).pair_id for p in params.get("pair", "").split(",") if p]

        def table(rate: float) -> dict:
            return {"fee": f"{rate * 100:.4f}", "minfee": "0.1000", "maxfee": f"{rate * 100:.4f}",
                    "nextfee": None, "nextvolume": None, "tiervolume": "0.0000"}

        return {"currency": "ZUSD", "volume": f"{self.exchange.volume[key]:.4f}",
                "fees": {p: table(taker) for p in pairs}, "fees_maker": {p: table(maker) for p in pairs}}

    # -- controls ----------------------------------------------------------------------------------------------

    async def state(self, _request) -> web.Response:
        return web.json_response({"now": str(self.exchange.clock.now()), "requests": len(self.requests)})

    async def move_clock(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"{}")
        now = self.exchange.clock.advance(timedelta(seconds=float(body.get("advance_seconds", 0))))
        self.exchange.sync()
        return web.json_response({"now": str(now)})

    async def add_fault(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"{}")
        try:
            self.faults.add(body["endpoint"], body["kind"], int(body.get("count", 1)))
        except (KeyError, ValueError) as exc:
            return web.json_response({"error": [str(exc)]}, status=400)
        return web.json_response({"ok": True})
