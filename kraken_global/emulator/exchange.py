"""The emulated exchange: accounts, orders, fills, and Kraken's order rules and error strings.

Two clocks: the **exchange clock** is Kraken's own (what ``Time`` reports; order and trade times, ``deadline``,
late acceptance, query lag and the dead man's switch all run on it: by default the machine's clock, optionally
skewed, in tests a stepped one); the **market** replays candles on a :class:`ReplayClock` that may run faster
than the exchange clock. A 60 s dead man's switch is 60 s of Kraken's clock even when the market replays at
``--speed 3600``.

Matching: a market order, or a limit order that is marketable on arrival, fills at once at the last price and
pays the taker fee (a post-only order that would cross is rejected). A resting limit order fills at its limit
price, paying the maker fee, when a candle that closes after it was placed trades through that price. Funds are
held for open orders. A pair's ``status`` is enforced as Kraken does: ``cancel_only`` (and ``delisted``) takes no
new order, ``post_only`` only post-only limit orders, ``limit_only`` no market order; in ``cancel_only`` and
``post_only`` nothing trades.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kraken_global.clocks import SYSTEM, Clock
from kraken_global.emulator import arguments
from kraken_global.emulator.clock import ReplayClock
from kraken_global.emulator.errors import KrakenError
from kraken_global.emulator.fills import DEFAULT_PARTICIPATION, stretches
from kraken_global.emulator.market import Market
from kraken_global.emulator.ordering import deadline_passed, parse_deadline
from kraken_global.emulator.permissions import PERMISSIONS
from kraken_global.emulator.replies import fee_tier_reply, order_reply, trade_record
from kraken_global.fees import KRAKEN_LEGACY, FeeSchedule
from kraken_global.universe import PairRules

HALTED = ("cancel_only", "post_only", "delisted")  # pair statuses in which nothing trades


@dataclass
class Order:
    txid: str
    pair_id: str
    side: str
    ordertype: str
    volume: float
    price: float | None
    userref: int | None
    cl_ord_id: str | None
    oflags: str
    opentm: float  # Kraken's clock
    market_placed: datetime  # the replayed market's time when it entered the book (which candles may fill it)
    status: str = "open"
    vol_exec: float = 0.0
    cost: float = 0.0
    fee: float = 0.0
    closetm: float | None = None
    reason: str | None = None
    trades: list[str] = field(default_factory=list)
    held: float = 0.0
    reference: float = 0.0  # the price funds are held at (limit, or the last price on arrival)
    working_since: datetime | None = None  # a taker order filling along the bars' path (fills="path")


@dataclass
class Account:
    secret: str
    balances: dict[str, float]
    permissions: frozenset[str] = frozenset(PERMISSIONS)


def epoch(moment: datetime) -> float:
    """Unix seconds of a naive-UTC datetime (``datetime.timestamp`` would assume the machine's zone)."""
    return moment.replace(tzinfo=UTC).timestamp()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ids(prefix: str):
    for n in itertools.count(1):
        yield f"{prefix}{n:05d}-{(n * 7919) % 100000:05d}-{(n * 104729) % 1000000:06d}"


class Exchange:
    def __init__(self, market: Market, clock: ReplayClock, accounts: dict[str, Account],
                 fees: FeeSchedule = KRAKEN_LEGACY, exchange_clock: Clock = SYSTEM,
                 fills: str = "close", participation: float = DEFAULT_PARTICIPATION) -> None:
        if fills not in ("close", "path"):
            raise ValueError(f"fills must be 'close' or 'path', got {fills!r}")
        if not 0 < participation <= 1:
            raise ValueError(f"participation must be in (0, 1], got {participation!r}")
        self.fills = fills
        self.participation = participation
        self.market = market
        self.clock = clock
        self.fees = fees
        self.exchange_clock = exchange_clock
        self.accounts = accounts
        self.lock = threading.RLock()
        self.reset()

    def reset(self, balances: dict[str, dict[str, float]] | None = None) -> None:
        """A fresh book: no orders, trades, volume, timers or late arrivals (tests reuse one emulator)."""
        with self.lock:
            for key, account in self.accounts.items():
                if balances is not None and key in balances:
                    account.balances = dict(balances[key])
            self.orders: dict[str, dict[str, Order]] = {key: {} for key in self.accounts}
            self.trades: dict[str, dict[str, dict[str, Any]]] = {key: {} for key in self.accounts}
            self._order_ids = _ids("O")
            self._trade_ids = _ids("T")
            self._synced = self.clock.now()
            self._dead_man: dict[str, float | None] = {key: None for key in self.accounts}  # Kraken's clock
            self.dead_man_fired: list[tuple[str, float]] = []  # (key, moment) each time a switch fired
            self.volume: dict[str, float] = {key: 0.0 for key in self.accounts}
            self._arrivals: list[tuple[float, int, Callable[[float], None]]] = []  # late acceptances, by moment
            self._arrival_ids = itertools.count()

    def kraken_now(self) -> float:
        """Kraken's clock (unix seconds)."""
        return self.exchange_clock.time()

    # -- helpers -------------------------------------------------------------------------------------------

    def rules(self, pair: str) -> PairRules:
        for pid, rules in self.market.rules.items():
            if pair in (pid, rules.altname, *rules.aliases) or pair.replace("/", "") == rules.altname:
                return rules
        raise KrakenError("EQuery:Unknown asset pair")

    def fee_rates(self, key: str) -> tuple[float, float]:
        return self.fees.rates(self.volume[key])

    def available(self, key: str, asset: str) -> float:
        held = sum(o.held for o in self.orders[key].values() if o.status == "open" and self._held_asset(o) == asset)
        return self.accounts[key].balances.get(asset, 0.0) - held

    def _held_asset(self, order: Order) -> str:
        rules = self.market.rules[order.pair_id]
        return rules.quote if order.side == "buy" else rules.base

    # -- time ------------------------------------------------------------------------------------------------

    def arrive_later(self, moment: float, action: Callable[[float], None]) -> None:
        """Run ``action(moment)`` once Kraken's clock reaches ``moment`` (a request the engine acts on late)."""
        with self.lock:
            heapq.heappush(self._arrivals, (moment, next(self._arrival_ids), action))

    def sync(self) -> None:
        """Act on late arrivals that are due; run the dead man's switch; match resting orders against candles
        closed since the last sync."""
        with self.lock:
            kraken_now = self.kraken_now()
            while self._arrivals and self._arrivals[0][0] <= kraken_now:
                moment, _, action = heapq.heappop(self._arrivals)
                action(moment)
            now = self.clock.now()
            for key, orders in self.orders.items():
                trigger = self._dead_man[key]
                if trigger is not None and kraken_now >= trigger:
                    for order in orders.values():
                        if order.status == "open":
                            self._close(order, "canceled", "Dead man's switch", trigger)
                    self._dead_man[key] = None
                    self.dead_man_fired.append((key, trigger))
                for order in list(orders.values()):
                    if order.status == "open" and order.working_since is not None:
                        self._work(key, order, now)
                    if order.status != "open" or order.ordertype != "limit" or order.working_since is not None:
                        continue
                    if self.market.rules[order.pair_id].status in HALTED:
                        continue
                    placed = order.market_placed
                    for start, candle in self.market.closed_between(order.pair_id, max(placed, self._synced),
                                                                    now).iterrows():
                        if start < placed:
                            continue  # that candle's range includes trading from before the order existed
                        touched = candle["low"] <= order.price if order.side == "buy" else candle["high"] >= order.price
                        if touched:
                            self._fill(key, order, order.volume - order.vol_exec, order.price, "maker")
                            break
            self._synced = now

    # -- orders ------------------------------------------------------------------------------------------------

    def add_order(self, key: str, params: dict[str, str], received: float | None = None,
                  at: float | None = None) -> dict[str, Any]:
        """Place an order. ``received``: when the request arrived, ``at``: when the engine acts on it (both on
        Kraken's clock; later than ``received`` when it is accepted late). The ``deadline`` is checked against
        Kraken's window from ``received``, and the order is refused if the deadline has passed at ``at``."""
        with self.lock:
            if at is None:
                self.sync()
            acted = self.kraken_now() if at is None else at
            for name in ("pair", "type", "ordertype", "volume"):
                arguments.required(params, name)
            deadline = parse_deadline(params.get("deadline"), acted if received is None else received)
            if deadline_passed(deadline, acted):
                raise KrakenError("EGeneral:Invalid arguments:deadline")
            rules = self.rules(params["pair"])
            side = params["type"]
            ordertype = params["ordertype"]
            if side not in ("buy", "sell"):
                raise arguments.invalid("type")
            if ordertype not in ("market", "limit"):
                raise arguments.invalid("ordertype")
            oflags = arguments.parse_oflags(params.get("oflags"))
            self._check_status(rules, ordertype, oflags)
            volume = float(arguments.parse_volume(params["volume"], rules))
            if volume < rules.ordermin:
                raise KrakenError("EOrder:Order minimum not met")
            price = None
            if ordertype == "limit":
                price = float(arguments.parse_price(arguments.required(params, "price"), rules))
            userref = arguments.parse_userref(params.get("userref"))
            cl_ord_id = arguments.check_cl_ord_id(params.get("cl_ord_id"))
            if userref is not None and cl_ord_id is not None:
                raise arguments.invalid("cl_ord_id")
            if cl_ord_id is not None and any(o.cl_ord_id == cl_ord_id and o.status == "open"
                                             for o in self.orders[key].values()):
                raise arguments.invalid("cl_ord_id")  # unique among open orders only (Kraken's rule)
            now = self.clock.now()
            last = self.market.last_price(rules.pair_id, now)
            reference = price if price is not None else last
            if volume * reference < rules.costmin:
                raise KrakenError("EOrder:Cost minimum not met")
            marketable = ordertype == "market" or (side == "buy" and price >= last) or \
                (side == "sell" and price <= last)
            if "post" in oflags.split(",") and marketable:
                raise KrakenError("EOrder:Post only order")
            _maker, taker = self.fee_rates(key)
            if side == "buy":
                need = volume * (last if marketable else price) * (1 + taker)
                if need > self.available(key, rules.quote) + 1e-9:
                    raise KrakenError("EOrder:Insufficient funds")
            elif volume > self.available(key, rules.base) + 1e-12:
                raise KrakenError("EOrder:Insufficient funds")
            description = f"{side} {params['volume']} {rules.altname} @ " + \
                ("market" if ordertype == "market" else f"limit {params['price']}")
            if str(params.get("validate", "")).lower() in ("true", "1"):
                return {"descr": {"order": description}}
            order = Order(next(self._order_ids), rules.pair_id, side, ordertype, volume, price,
                          userref, cl_ord_id, oflags, acted, now)
            self.orders[key][order.txid] = order
            order.reference = last if marketable else price
            if marketable and self.fills == "path":
                order.working_since = now
                self._hold(order, taker)
            elif marketable:
                self._fill(key, order, volume, last, "taker", acted)
            else:
                self._hold(order, taker)
            return {"descr": {"order": description}, "txid": [order.txid]}

    @staticmethod
    def _check_status(rules: PairRules, ordertype: str, oflags: str) -> None:
        """Kraken's market status: what a pair in each state accepts (see the module docstring)."""
        status = rules.status
        if status in ("cancel_only", "delisted"):
            raise KrakenError("EService:Market in cancel_only mode")
        if status == "post_only" and (ordertype != "limit" or "post" not in oflags.split(",")):
            raise KrakenError("EService:Market in post_only mode")
        if status == "limit_only" and ordertype != "limit":
            raise KrakenError("EService:Market in limit_only mode")

    def _fill(self, key: str, order: Order, volume: float, price: float, liquidity: str,
              when: float | None = None) -> None:
        rules = self.market.rules[order.pair_id]
        maker, taker = self.fee_rates(key)
        rate = maker if liquidity == "maker" else taker
        cost = volume * price
        fee = cost * rate
        when = self.kraken_now() if when is None else when
        balances = self.accounts[key].balances
        if order.side == "buy":
            balances[rules.quote] = balances.get(rules.quote, 0.0) - cost - fee
            balances[rules.base] = balances.get(rules.base, 0.0) + volume
        else:
            balances[rules.base] = balances.get(rules.base, 0.0) - volume
            balances[rules.quote] = balances.get(rules.quote, 0.0) + cost - fee
        trade_id = next(self._trade_ids)
        self.trades[key][trade_id] = trade_record(order, rules, volume, price, fee, liquidity, when,
                                                  len(self.trades[key]) + 1)
        self.volume[key] += cost
        order.vol_exec += volume
        order.cost += cost
        order.fee += fee
        order.trades.append(trade_id)
        if order.vol_exec >= order.volume - 1e-12:
            self._close(order, "closed", None, when)
        else:
            self._hold(order, taker)

    @staticmethod
    def _hold(order: Order, taker: float) -> None:
        remaining = order.volume - order.vol_exec
        order.held = remaining * order.reference * (1 + taker) if order.side == "buy" else remaining

    def _work(self, key: str, order: Order, now: datetime) -> None:
        """Fill a taker order along the path of the candles it lived through since it was last worked."""
        rules = self.market.rules[order.pair_id]
        lot = 10.0 ** -rules.lot_decimals
        _maker, taker = self.fee_rates(key)
        for stretch in stretches(self.market.candles[order.pair_id], self.market.bar(order.pair_id),
                                 order.working_since, now, self.participation):
            price = round(stretch.price, rules.pair_decimals)
            if order.price is not None and (price > order.price if order.side == "buy" else price < order.price):
                continue  # a marketable limit order does not trade through its limit
            volume = min(order.volume - order.vol_exec, stretch.volume)
            if order.side == "buy":
                cash = self.accounts[key].balances.get(rules.quote, 0.0) - sum(
                    o.held for o in self.orders[key].values()
                    if o is not order and o.status == "open" and self._held_asset(o) == rules.quote)
                volume = min(volume, max(cash, 0.0) / (price * (1 + taker)))
            volume = rules.round_size(volume) if volume >= lot else 0.0
            if volume <= 0:
                continue
            self._fill(key, order, volume, price, "taker")
            if order.status != "open":
                break
        order.working_since = now

    def _close(self, order: Order, status: str, reason: str | None, when: float | None = None) -> None:
        when = self.kraken_now() if when is None else when
        order.status, order.reason, order.closetm, order.held = status, reason, when, 0.0

    def find(self, key: str, ref: str) -> list[Order]:
        """Orders matching a txid, a userref or a cl_ord_id."""
        orders = self.orders[key]
        if ref in orders:
            return [orders[ref]]
        return [o for o in orders.values() if o.cl_ord_id == ref or (o.userref is not None and str(o.userref) == ref)]

    def cancel(self, key: str, ref: str) -> dict[str, Any]:
        with self.lock:
            self.sync()
            matches = [o for o in self.find(key, ref) if o.status == "open"]
            if not matches:  # Kraken: unknown, or no longer open (filled, cancelled, expired)
                raise KrakenError("EOrder:Unknown order")
            for order in matches:
                self._close(order, "canceled", "User requested")
            return {"count": len(matches), "pending": False}

    def cancel_all(self, key: str) -> dict[str, Any]:
        with self.lock:
            self.sync()
            open_orders = [o for o in self.orders[key].values() if o.status == "open"]
            for order in open_orders:
                self._close(order, "canceled", "User requested")
            return {"count": len(open_orders)}

    def cancel_all_after(self, key: str, timeout: int) -> dict[str, Any]:
        with self.lock:
            if not 0 <= timeout < 86400:
                raise KrakenError("EGeneral:Invalid arguments:timeout")
            self.sync()
            now = self.kraken_now()
            self._dead_man[key] = now + timeout if timeout else None
            return {"currentTime": rfc3339(now), "triggerTime": rfc3339(now + timeout) if timeout else "0"}

    def describe(self, order: Order, with_trades: bool = False, with_reason: bool = True) -> dict[str, Any]:
        return order_reply(order, self.market.rules[order.pair_id], with_trades, with_reason)

    def trade_volume(self, key: str, pairs: list[str]) -> dict[str, Any]:
        """TradeVolume: the account's 30-day volume and, per pair asked for, its taker and maker tier."""
        volume = self.volume[key]
        tiers = self.fees.tiers
        current = max(i for i, t in enumerate(tiers) if volume >= t.min_volume)
        following = tiers[current + 1] if current + 1 < len(tiers) else None

        def table(side: str) -> dict[str, Any]:
            rates = [getattr(t, side) for t in tiers]
            return fee_tier_reply(rates[current], getattr(following, side) if following else None,
                                  tiers[current].min_volume, following.min_volume if following else None,
                                  min(rates), max(rates))

        return {"currency": "ZUSD", "volume": f"{volume:.4f}",
                "fees": {p: table("taker") for p in pairs}, "fees_maker": {p: table("maker") for p in pairs}}
