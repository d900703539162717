"""The aiohttp application: Kraken's REST paths and reply shapes over the emulated exchange.

Public ``GET /0/public/<Method>``, private ``POST /0/private/<Method>`` (form body with ``nonce``, headers
``API-Key`` and ``API-Sign``). Every reply is HTTP 200 ``{"error": [...], "result": ...}`` unless a fault says
otherwise. ``/_emulator/...`` holds the controls (clock, faults), which Kraken of course does not have.
"""

from __future__ import annotations

import asyncio
import logging
import time
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from kraken_global.emulator import arguments
from kraken_global.emulator.auth import NonceBook, signature_ok
from kraken_global.emulator.controls import ControlError, clock_advance, fault_request
from kraken_global.emulator.exchange import Exchange, KrakenError, epoch
from kraken_global.emulator.faults import Fault, FaultPlan
from kraken_global.emulator.ordering import Visibility, trades_page
from kraken_global.emulator.pair_rules import asset_pairs_reply
from kraken_global.emulator.permissions import allowed
from kraken_global.emulator.trades import TradeTape

INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
ASSET_DECIMALS = {"ZUSD": 4}
log = logging.getLogger(__name__)


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
        self.visibility = Visibility()
        self.late: list[dict[str, Any]] = []  # what each late acceptance did: {"placed": txid} or {"error": ...}

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
            if fault.kind == "accepted_late":
                return await self._accept_late(fault, handler)
        try:
            result = handler()
            response = _ok(result)
        except KrakenError as exc:
            response = _error(str(exc))
        except Exception:  # a bug of the emulator must still answer in Kraken's envelope, never a bare 500
            log.exception("emulator error in %s", method)
            response = _error("EGeneral:Internal error")
        else:
            if fault is not None and fault.kind == "query_lag" and isinstance(result, dict):
                for txid in result.get("txid") or []:
                    self.visibility.hide(txid, fault.seconds)
        if fault is not None and fault.kind == "lost_response":
            await asyncio.sleep(self.fault_delay)  # done, but the client gives up before the answer
        return response

    async def _accept_late(self, fault: Fault, handler) -> web.Response:
        """The client times out; the engine acts on the request ``fault.seconds`` later (the handler is told when
        the request arrived, so a passed ``deadline`` refuses it then)."""
        received = time.time()

        def act() -> None:
            try:
                result = handler(received)
                self.late.append({"placed": (result.get("txid") or [None])[0]})
            except KrakenError as exc:
                self.late.append({"error": str(exc)})

        asyncio.get_running_loop().call_later(fault.seconds, act)
        await asyncio.sleep(self.fault_delay)
        return _error("EService:Unavailable")

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
        try:
            params = dict(parse_qsl(body.decode("utf-8", errors="strict"), keep_blank_values=True))
        except UnicodeDecodeError:
            return _error("EGeneral:Invalid arguments")
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
        if not allowed(method, account.permissions):
            return _error("EGeneral:Permission denied")
        params.pop("nonce", None)
        if method == "AddOrder":  # received: when the request arrived, for the deadline of a late acceptance
            return await self._with_faults(method, lambda received=None: handler(key, params, received))
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
        wanted = [p for p in query.get("pair", "").split(",") if p]
        pids = [self.exchange.rules(p).pair_id for p in wanted] if wanted else list(self.exchange.market.rules)
        return asset_pairs_reply({pid: self.exchange.market.rules[pid] for pid in pids})

    def _pair(self, query) -> str:
        return self.exchange.rules(arguments.required(query, "pair")).pair_id

    def public_Ticker(self, query) -> dict:
        self.exchange.sync()
        out = {}
        now = self.exchange.clock.now()
        for name in arguments.required(query, "pair").split(","):
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
        """The latest 720 candles (the last one still forming); ``since`` keeps those stamped after it, and
        the forming one always; ``last`` is the stamp of the last committed candle, the cursor to poll with."""
        pid = self._pair(query)
        interval = arguments.parse_int(query.get("interval"), "interval", 1)
        if interval not in INTERVALS:
            raise arguments.invalid("interval")
        since = arguments.parse_int(query.get("since"), "since")
        rules = self.exchange.market.rules[pid]
        frame = self.exchange.market.ohlc(pid, self.exchange.clock.now(), interval)
        fmt = f".{rules.pair_decimals}f"
        rows = [[int(epoch(t)), format(r.open, fmt), format(r.high, fmt), format(r.low, fmt), format(r.close, fmt),
                 format(r.close, fmt), f"{r.volume:.8f}", 1] for t, r in frame.iterrows()]
        last = rows[-2][0] if len(rows) > 1 else 0
        if since is not None and rows:
            rows = [row for row in rows[:-1] if row[0] > since] + rows[-1:]
        return {pid: rows, "last": last}

    def public_Trades(self, query) -> dict:
        return TradeTape(self.exchange.market).page(self._pair(query), self.exchange.clock.now(),
                                                    query.get("since"), query.get("count"))

    def public_Depth(self, query) -> dict:
        pid = self._pair(query)
        rules = self.exchange.market.rules[pid]
        last = self.exchange.market.last_price(pid, self.exchange.clock.now())
        stamp = int(epoch(self.exchange.clock.now()))
        fmt = f".{rules.pair_decimals}f"
        return {pid: {"asks": [[format(last + rules.tick_size * (i + 1), fmt), "1.000", stamp] for i in range(10)],
                      "bids": [[format(last - rules.tick_size * i, fmt), "1.000", stamp] for i in range(10)]}}

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

    def private_AddOrder(self, key, params, received: float | None = None) -> dict:
        return self.exchange.add_order(key, params, received)

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
            if order.status not in status or not self.visibility.visible(txid):
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
                if not self.visibility.visible(order.txid):
                    continue
                out[order.txid] = self.exchange.describe(order, True)
        if not out:
            raise KrakenError("EOrder:Unknown order")
        return out

    def private_TradesHistory(self, key, params) -> dict:
        self.exchange.sync()
        return trades_page(self.exchange.trades[key], params)

    def private_TradeVolume(self, key, params) -> dict:
        maker, taker = self.exchange.fee_rates(key)
        pairs = [self.exchange.rules(p).pair_id for p in params.get("pair", "").split(",") if p]

        def table(rate: float) -> dict:
            return {"fee": f"{rate * 100:.4f}", "min_fee": "0.1000", "max_fee": f"{rate * 100:.4f}",
                    "next_fee": None, "next_volume": None, "tier_volume": "0.0000"}  # the spec's names

        return {"currency": "ZUSD", "volume": f"{self.exchange.volume[key]:.4f}",
                "fees": {p: table(taker) for p in pairs}, "fees_maker": {p: table(maker) for p in pairs}}

    # -- controls ----------------------------------------------------------------------------------------------

    async def state(self, _request) -> web.Response:
        return web.json_response({"now": str(self.exchange.clock.now()), "requests": len(self.requests)})

    async def move_clock(self, request: web.Request) -> web.Response:
        try:
            delta = clock_advance(await request.read())
            now, end = self.exchange.clock.now(), self.exchange.market.end
            if now + delta > end:  # past the data the market would stand still while its clock runs on
                raise ControlError(f"the replayed candles end at {end}: the clock ({now:%Y-%m-%d %H:%M:%S}) can "
                                   f"advance at most {max((end - now).total_seconds(), 0):.0f} seconds")
        except ControlError as exc:
            return web.json_response({"error": [str(exc)]}, status=400)
        now = self.exchange.clock.advance(delta)
        self.exchange.sync()
        return web.json_response({"now": str(now)})

    async def add_fault(self, request: web.Request) -> web.Response:
        try:
            endpoint, kind, count, seconds = fault_request(await request.read())
            self.faults.add(endpoint, kind, count, seconds)
        except (ControlError, ValueError) as exc:
            return web.json_response({"error": [str(exc)]}, status=400)
        return web.json_response({"ok": True})
