"""The Kraken store: one place that talks to Kraken through ccxt, and the rules that make that safe.

- **No network in the constructor**: :meth:`KrakenStore.start` connects (loads markets, measures Kraken's clock),
  :meth:`stop` drops it. **URLs configurable**, so tests and the emulator point it at 127.0.0.1.
- **Retries only where they are safe**: reads are retried on temporary errors with backoff; an AddOrder is sent
  again only after a refusal that proves nothing was done (Kraken's rate limit), never after an unknown outcome.
- **Kraken's clock decides** (:class:`~kraken_global.live.kraken_clock.KrakenClock`): every AddOrder carries a
  ``deadline`` on Kraken's clock (local clock + measured offset), after which Kraken's engine refuses it; whether
  the deadline has passed is asked of Kraken's ``Time``. A clock skewed beyond the configured bound stops trading.
- **Unknown stays unknown.** When placing fails in a way that leaves the outcome unknown (timeout, lost reply, 5xx,
  anything that is not a documented refusal), the order is looked up by its client order id (``cl_ord_id``) in open
  and closed orders, and in the trades (a trade of an order not identified yet may be ours). It is *found* when a
  lookup shows it; it is *absent* only when lookups that succeeded, made after Kraken's ``Time`` says the deadline
  plus the margin has passed, show neither the order nor a trade that could be its; a failed lookup proves nothing.
  An absent order is never resent here: the caller decides again from the reconciled position, so a copy that
  appears late (Kraken documents no bound on its query lag) is adopted, not doubled. An order neither found nor
  proven absent in time raises :class:`PlacementUnknown` and is looked up again by the caller's syncs.
- **Unknown is not rejected**: only Kraken's documented refusals (:data:`~kraken_global.live.errors.
  REJECTION_REASONS`, the market status included) raise :class:`OrderRejected`.
- **Paged fills**: :meth:`fetch_my_trades_since` reads TradesHistory page by page (50 a page, newest first).
- **One process per key**: with a :class:`KeyGuard` the store holds the key's lock and sends nonces that keep
  growing across restarts; private calls go one at a time (:class:`~kraken_global.live.client.KrakenClient`), paced
  by Kraken's rate model for the account's tier when ``rate_tier`` is set.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import ccxt

from kraken_global.clocks import SYSTEM, Clock
from kraken_global.live.client import KrakenClient
from kraken_global.live.credentials import Credentials
from kraken_global.live.errors import (
    CredentialsError,
    LiveError,
    OrderNotPlaced,
    OrderRejected,
    PlacementUnknown,
    RateLimited,
    TemporaryError,
    TradingRefused,
    UnknownOrderError,
    is_definite_rejection,
    translate,
)
from kraken_global.live.keyguard import KeyGuard
from kraken_global.live.kraken_clock import KrakenClock
from kraken_global.live.rate_limit import RatePacer

log = logging.getLogger(__name__)
CLIENT_ID_PREFIX = "kg"
TRADES_PAGE = 50  # Kraken's TradesHistory page
DEADLINE_WINDOW_SECONDS = 60  # Kraken accepts a deadline up to now + 60 s: an order is sent no earlier than that


@dataclass(frozen=True)
class StoreSettings:
    api_url: str | None = None  # None: Kraken itself
    timeout_ms: int = 10_000
    max_attempts: int = 5
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0
    enable_rate_limit: bool = True  # ccxt's fixed throttle
    rate_tier: str | None = None  # Kraken's decay-counter model for this account tier (None: no model)
    deadline_seconds: float = 15.0  # each AddOrder's deadline: Kraken allows now + 2 s to now + 60 s
    deadline_margin_seconds: float = 5.0  # beyond a deadline (Kraken's clock) before absence may be concluded
    unknown_wait_seconds: float = 10.0  # how long past deadline + margin a placement keeps looking before it returns
    poll_seconds: float = 0.25  # first pause between lookups of an order whose placement is unknown
    max_poll_seconds: float = 2.0
    max_clock_skew_seconds: float | None = 60.0
    clock_check_seconds: float = 300.0


@dataclass(frozen=True)
class Outcome:
    """What Kraken's records say of an order whose placement was unknown."""

    status: Literal["found", "absent", "unknown"]
    order: dict[str, Any] | None = None
    why: str = ""


def rfc3339(seconds: float) -> str:
    """Unix seconds as Kraken's ``deadline`` format (UTC, whole seconds)."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_client_order_id() -> str:
    """``kg`` + 16 hex digits: unique, and within Kraken's 18-character limit for ``cl_ord_id``."""
    return CLIENT_ID_PREFIX + secrets.token_hex(8)


def is_own_client_id(client_order_id: str | None) -> bool:
    return bool(client_order_id) and client_order_id.startswith(CLIENT_ID_PREFIX) and len(client_order_id) == 18


class KrakenStore:
    def __init__(self, credentials: Credentials | None, settings: StoreSettings = StoreSettings(),
                 clock: Clock = SYSTEM, guard: KeyGuard | None = None) -> None:
        self.credentials = credentials
        self.settings = settings
        self.clock = clock
        self.guard = guard
        self.kraken_clock = KrakenClock(clock, settings.max_clock_skew_seconds)
        self.pacer = RatePacer(settings.rate_tier, clock) if settings.rate_tier else None
        self.exchange: KrakenClient | None = None
        self._client_ids: dict[str, str | None] = {}  # txid -> cl_ord_id of orders identified (None: no cl_ord_id)

    def __repr__(self) -> str:
        return f"KrakenStore(url={self.settings.api_url or 'kraken'!r}, credentials={self.credentials!r})"

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> KrakenStore:
        options: dict[str, Any] = {"enableRateLimit": self.settings.enable_rate_limit,
                                   "timeout": self.settings.timeout_ms}
        if self.credentials is not None:
            options.update(apiKey=self.credentials.key, secret=self.credentials.secret)
        if self.guard is not None:
            self.guard.acquire()
        self.exchange = KrakenClient(options, self.pacer)
        if self.guard is not None:
            self.exchange.nonce = self.guard.nonce
        if self.settings.api_url:
            self.exchange.urls["api"] = {"public": self.settings.api_url, "private": self.settings.api_url}
        try:
            self.read(self.exchange.load_markets)
            self.check_clock(force=True)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.exchange = None
        if self.guard is not None:
            self.guard.release()

    @property
    def client(self) -> KrakenClient:
        if self.exchange is None:
            raise LiveError("the store is not started: call start() first")
        return self.exchange

    # -- Kraken's clock ---------------------------------------------------------------------------------------

    def kraken_time_now(self) -> float:
        """Kraken's ``Time`` (whole seconds), asked now."""
        return float(self.read(self.client.publicGetTime)["result"]["unixtime"])

    def kraken_time(self) -> float:
        """Kraken's time estimated from the local clock and the measured offset (no request)."""
        return self.kraken_clock.now()

    def check_clock(self, force: bool = False) -> str | None:
        """Measure the offset to Kraken's clock when due; returns why trading must stop for it, or None. At start
        (``force``) a skew beyond the bound raises :class:`TradingRefused` for a store that trades (with
        credentials); a public one (paper) only warns."""
        if force or self.kraken_clock.due(self.settings.clock_check_seconds):
            offset = self.kraken_clock.measure(self.kraken_time_now)
            log.info("Kraken's clock is %+.1f s from this machine's", offset)
        problem = self.kraken_clock.skew_problem()
        if problem is not None and force:
            if self.credentials is not None:
                raise TradingRefused(problem)
            log.warning("%s", problem)
        return problem

    # -- calls ----------------------------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> None:
        self.clock.sleep(min(self.settings.backoff_seconds * 2 ** attempt, self.settings.max_backoff_seconds))

    def read(self, call: Callable[..., Any], *args, attempts: int | None = None, **kwargs) -> Any:
        """A call without side effects: retried on temporary errors, other errors translated and raised."""
        attempts = attempts or self.settings.max_attempts
        for attempt in range(attempts):
            try:
                return call(*args, **kwargs)
            except ccxt.BaseError as exc:
                error = translate(exc)
                if not isinstance(error, TemporaryError) or attempt == attempts - 1:
                    raise error from exc
                log.warning("temporary error on %s (attempt %d): %s", getattr(call, "__name__", "call"),
                            attempt + 1, error)
                self._backoff(attempt)
        raise AssertionError("unreachable")

    def fetch_balance(self) -> dict[str, Any]:
        return self.read(self.client.fetch_balance)

    def fetch_ohlcv(self, symbol: str, timeframe: str = "1h", since: int | None = None) -> list[list[float]]:
        return self.read(self.client.fetch_ohlcv, symbol, timeframe, since)

    def fetch_order(self, order_id: str) -> dict[str, Any]:
        order = self.read(self.client.fetch_order, order_id)
        self._client_ids.setdefault(order_id, (order.get("info") or {}).get("cl_ord_id"))
        return order

    def fetch_open_orders(self) -> list[dict[str, Any]]:
        return self.read(self.client.fetch_open_orders)

    def fetch_trading_fees(self, symbol: str) -> tuple[float, float]:
        """The account's (maker, taker) rates for ``symbol`` from TradeVolume (fractions)."""
        fees = self.read(self.client.fetch_trading_fee, symbol)
        return float(fees["maker"]), float(fees["taker"])

    def fetch_my_trades_since(self, start_seconds: int | None = None) -> list[dict[str, Any]]:
        """Every trade after ``start_seconds`` (unix, exclusive; None: all), read page by page. Kraken pages
        newest first, so a trade made while paging pushes older ones to a later page: they are read twice (the
        caller records each trade id once), never skipped."""
        trades: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            params: dict[str, Any] = {"ofs": offset}
            if start_seconds is not None:
                params["start"] = int(start_seconds)
            page = self.read(self.client.fetch_my_trades, None, None, None, params)
            known = len(trades)
            for trade in page:
                trades[str(trade["id"])] = trade
            offset += len(page)
            if len(page) < TRADES_PAGE or len(trades) == known:
                return sorted(trades.values(), key=lambda t: (t["timestamp"], str(t["id"])))

    def cancel_order(self, order_id: str) -> None:
        self.read(self.client.cancel_order, order_id)

    def cancel_if_open(self, order_id: str) -> bool:
        """Cancel ``order_id``; False when it had closed meanwhile (Kraken: ``EOrder:Unknown order``)."""
        try:
            self.cancel_order(order_id)
        except UnknownOrderError:
            return False
        return True

    def refresh_dead_mans_switch(self, timeout_seconds: int = 60, attempts: int | None = None) -> dict[str, Any]:
        """Cancel every order of the account if not refreshed within ``timeout_seconds`` (0 switches it off)."""
        return self.read(self.client.privatePostCancelAllOrdersAfter, {"timeout": timeout_seconds},
                         attempts=attempts)["result"]

    # -- finding an order ------------------------------------------------------------------------------------

    def _as_order(self, txid: str, raw: dict[str, Any]) -> dict[str, Any]:
        """The full order (QueryOrders); the listing's copy when that lookup fails (query lag)."""
        try:
            return self.fetch_order(txid)
        except LiveError:
            return self.client.parse_order({**raw, "id": txid})

    def find_by_client_id(self, client_order_id: str) -> dict[str, Any] | None:
        """The order carrying ``client_order_id`` (open or closed), or None when both lookups show none; a failed
        lookup raises (it proves nothing)."""
        for endpoint, key in ((self.client.privatePostOpenOrders, "open"),
                              (self.client.privatePostClosedOrders, "closed")):
            found = self.read(endpoint, {"cl_ord_id": client_order_id})["result"][key]
            if found:
                txid, raw = next(iter(found.items()))
                self._client_ids[txid] = client_order_id
                return self._as_order(txid, raw)
        return None

    def client_id_of(self, txid: str) -> str | None:
        """The ``cl_ord_id`` of order ``txid`` (None when it has none), asked of QueryOrders once; a failed lookup
        raises."""
        if txid not in self._client_ids:
            self.fetch_order(txid)
        return self._client_ids[txid]

    def _trade_that_may_be(self, client_order_id: str, symbol: str, side: str,
                           since: float) -> tuple[str | None, dict[str, Any] | None]:
        """Whether a trade on ``symbol``/``side`` after ``since`` belongs to ``client_order_id``: returns (a trade
        whose order cannot be identified, None) or (None, the order when one of the trades is its)."""
        for trade in self.fetch_my_trades_since(int(since)):
            if trade.get("symbol") != symbol or trade.get("side") != side or not trade.get("order"):
                continue
            try:
                owner = self.client_id_of(trade["order"])
            except LiveError:
                return str(trade["id"]), None
            if owner == client_order_id:
                return None, self.fetch_order(trade["order"])
        return None, None

    def lookup(self, client_order_id: str, symbol: str, side: str, deadline: float | None) -> Outcome:
        """One round of looking for an order whose placement is unknown (see the module docstring). ``deadline``:
        as sent with its AddOrder (Kraken's clock); None when it was never sent."""
        margin = self.settings.deadline_margin_seconds
        try:
            passed = deadline is None or self.kraken_time_now() > deadline + margin
            found = self.find_by_client_id(client_order_id)
            if found is not None:
                return Outcome("found", found)
            if not passed:
                return Outcome("unknown", why="Kraken's clock has not passed its deadline and margin yet")
            if deadline is not None:
                stray, found = self._trade_that_may_be(client_order_id, symbol, side,
                                                       deadline - DEADLINE_WINDOW_SECONDS - margin)
                if found is not None:
                    return Outcome("found", found)
                if stray is not None:
                    return Outcome("unknown", why=f"trade {stray} of an order Kraken does not show yet")
        except CredentialsError:
            raise
        except LiveError as exc:
            return Outcome("unknown", why=f"a lookup failed ({exc}), which proves nothing")
        return Outcome("absent", why="neither Kraken's open nor closed orders nor its trades show it after its "
                                     "deadline")

    def resolve(self, client_order_id: str, symbol: str, side: str, deadline: float | None) -> Outcome:
        """Look the order up until it is found or proven absent, at most until Kraken's clock is
        ``unknown_wait_seconds`` past the deadline and margin; then its outcome stays unknown."""
        settings = self.settings
        give_up = (deadline or 0.0) + settings.deadline_margin_seconds + settings.unknown_wait_seconds
        pause = settings.poll_seconds
        while True:
            outcome = self.lookup(client_order_id, symbol, side, deadline)
            if outcome.status != "unknown" or deadline is None or self.kraken_time() > give_up:
                return outcome
            self.clock.sleep(pause)
            pause = min(pause * 2, settings.max_poll_seconds)

    # -- placing ----------------------------------------------------------------------------------------------

    def _placed(self, txid: str, client_order_id: str, symbol: str, side: str, order_type: str,
                amount: float) -> dict[str, Any]:
        """The exchange's view of an order it just accepted. Its status may lag behind the acceptance (query
        lag): a failed lookup is retried for a while and never means the order does not exist; if it stays
        invisible, the order is reported open with nothing filled, and later syncs read it by ``txid``."""
        self._client_ids[txid] = client_order_id
        pause = self.settings.poll_seconds
        until = self.clock.time() + self.settings.deadline_margin_seconds
        while True:
            try:
                return self.fetch_order(txid)
            except LiveError as exc:
                if isinstance(exc, CredentialsError) or self.clock.time() > until:
                    log.warning("order %s (%s) was accepted but cannot be read yet: %s", client_order_id, txid, exc)
                    return {"id": txid, "clientOrderId": client_order_id, "status": "open", "symbol": symbol,
                            "side": side, "type": order_type, "amount": amount, "filled": 0.0, "cost": 0.0,
                            "average": None, "fee": None, "trades": []}
            self.clock.sleep(pause)
            pause = min(pause * 2, self.settings.max_poll_seconds)

    def submit_order(self, symbol: str, side: str, order_type: str, amount: float, price: float | None = None,
                     client_order_id: str | None = None, post_only: bool = False,
                     on_send: Callable[[str, float], None] | None = None) -> dict[str, Any]:
        """Place an order at most once; returns the exchange's order (ccxt shape). See the module docstring.

        Raises :class:`OrderNotPlaced` (or :class:`OrderRejected`) when the order is certainly not on the exchange,
        :class:`PlacementUnknown` when it may be. ``on_send(client_order_id, deadline)`` is called before each
        AddOrder is sent, so the caller can persist the deadline that bounds the search after a crash."""
        client_order_id = client_order_id or new_client_order_id()
        base: dict[str, Any] = {"cl_ord_id": client_order_id}
        if post_only:
            base["oflags"] = "post"
        for attempt in range(self.settings.max_attempts):
            deadline = float(math.ceil(self.kraken_time() + self.settings.deadline_seconds))  # Kraken's clock
            if on_send is not None:
                on_send(client_order_id, deadline)
            try:
                placed = self.client.create_order(symbol, order_type, side, amount, price,
                                                  {**base, "deadline": rfc3339(deadline)})
            except ccxt.BaseError as exc:
                error = translate(exc)
                in_use = isinstance(error, OrderRejected) and ("Duplicate order" in error.reason
                                                                or "Invalid arguments:cl_ord_id" in error.reason)
                if isinstance(error, CredentialsError) or (is_definite_rejection(exc) and not in_use):
                    raise error from exc
                if isinstance(error, RateLimited):  # refused before Kraken acted on it: sending again is safe
                    log.warning("placing %s: %s (attempt %d); nothing was placed, sending again after a pause",
                                client_order_id, error, attempt + 1)
                    self._backoff(attempt)
                    continue
                log.warning("placing %s: %s; outcome unknown: looking it up in Kraken's records (never resent)",
                            client_order_id, error)
                outcome = self.resolve(client_order_id, symbol, side, deadline)
                if outcome.status == "found":
                    log.warning("order %s was placed despite %s", client_order_id, error)
                    return outcome.order
                if outcome.status == "absent":
                    raise OrderNotPlaced(f"{error}; {outcome.why}") from exc
                raise PlacementUnknown(client_order_id, f"{error}; {outcome.why}") from exc
            return self._placed(placed["id"], client_order_id, symbol, side, order_type, amount)
        raise OrderNotPlaced("rate limited", f"order {client_order_id} could not be placed after "
                                             f"{self.settings.max_attempts} attempts: Kraken's rate limit refused "
                                             "each one (nothing was placed)")
