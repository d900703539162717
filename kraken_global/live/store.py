"""The Kraken store: one place that talks to Kraken through ccxt, and the rules that make that safe.

- **No network in the constructor**: :meth:`KrakenStore.start` connects (loads markets), :meth:`stop` drops it.
- **URLs configurable**, so tests and the emulator point it at 127.0.0.1 and production at Kraken.
- **Retries only where they are safe**: reads are retried on temporary errors with exponential backoff; an
  order rejected by the exchange is never retried.
- **Never double an order**: every order carries a client order id (``cl_ord_id``) and a ``deadline`` after
  which Kraken's engine refuses it (without one Kraken may act on a queued request for about 90 s). When placing
  fails in a way that leaves the outcome unknown (timeout, lost response, 5xx, rate limit, any error that is not a
  documented refusal), the store keeps looking the id up in open AND closed orders until the deadline has passed
  by a margin; only then, the order proven never to exist, may it resend, with a new deadline. ``cl_ord_id`` is
  unique only among open orders on Kraken, so a resend before the deadline could fill twice.
- **Unknown is not rejected**: only Kraken's documented refusals (:data:`~kraken_global.live.errors.
  REJECTION_REASONS`) raise :class:`OrderRejected`; a lookup that fails after Kraken accepted the order (query
  lag) never turns into a rejection.
- **Paged fills**: :meth:`fetch_my_trades_since` reads TradesHistory page by page (50 a page, newest first).
- **One process per key**: with a :class:`KeyGuard` the store holds the key's lock and sends nonces that keep
  growing across restarts.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ccxt

from kraken_global.live.credentials import Credentials
from kraken_global.live.errors import (
    CredentialsError,
    LiveError,
    OrderRejected,
    TemporaryError,
    is_definite_rejection,
    translate,
)
from kraken_global.live.keyguard import KeyGuard

log = logging.getLogger(__name__)
CLIENT_ID_PREFIX = "kg"
TRADES_PAGE = 50  # Kraken's TradesHistory page


@dataclass(frozen=True)
class StoreSettings:
    api_url: str | None = None  # None: Kraken itself
    timeout_ms: int = 10_000
    max_attempts: int = 5
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0
    enable_rate_limit: bool = True
    deadline_seconds: float = 15.0  # each AddOrder's deadline: Kraken allows now + 2 s to now + 60 s
    deadline_margin_seconds: float = 5.0  # clock skew and query lag allowed beyond a deadline before a resend
    poll_seconds: float = 0.25  # first pause between lookups of an order whose placement is unknown


def rfc3339(seconds: float) -> str:
    """Unix seconds as Kraken's ``deadline`` format (UTC, whole seconds)."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_client_order_id() -> str:
    """``kg`` + 16 hex digits: unique, and within Kraken's 18-character limit for ``cl_ord_id``."""
    return CLIENT_ID_PREFIX + secrets.token_hex(8)


class KrakenStore:
    def __init__(self, credentials: Credentials | None, settings: StoreSettings = StoreSettings(),
                 sleep: Callable[[float], None] = time.sleep, guard: KeyGuard | None = None) -> None:
        self.credentials = credentials
        self.settings = settings
        self._sleep = sleep
        self.guard = guard
        self.exchange: ccxt.kraken | None = None

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
        self.exchange = ccxt.kraken(options)
        if self.guard is not None:
            self.exchange.nonce = self.guard.nonce
        if self.settings.api_url:
            self.exchange.urls["api"] = {"public": self.settings.api_url, "private": self.settings.api_url}
        try:
            self.read(self.exchange.load_markets)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.exchange = None
        if self.guard is not None:
            self.guard.release()

    @property
    def client(self) -> ccxt.kraken:
        if self.exchange is None:
            raise LiveError("the store is not started: call start() first")
        return self.exchange

    # -- calls ----------------------------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> None:
        self._sleep(min(self.settings.backoff_seconds * 2 ** attempt, self.settings.max_backoff_seconds))

    def read(self, call: Callable[..., Any], *args, **kwargs) -> Any:
        """A call without side effects: retried on temporary errors, other errors translated and raised."""
        for attempt in range(self.settings.max_attempts):
            try:
                return call(*args, **kwargs)
            except ccxt.BaseError as exc:
                error = translate(exc)
                if not isinstance(error, TemporaryError) or attempt == self.settings.max_attempts - 1:
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
        return self.read(self.client.fetch_order, order_id)

    def fetch_open_orders(self) -> list[dict[str, Any]]:
        return self.read(self.client.fetch_open_orders)

    def fetch_my_trades(self, since: int | None = None) -> list[dict[str, Any]]:
        return self.read(self.client.fetch_my_trades, None, since)

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

    def refresh_dead_mans_switch(self, timeout_seconds: int = 60) -> dict[str, Any]:
        """Cancel everything if not refreshed within ``timeout_seconds`` (Kraken advises 60, refreshed every
        15-30 s)."""
        return self.read(self.client.privatePostCancelAllOrdersAfter, {"timeout": timeout_seconds})["result"]

    def find_by_client_id(self, client_order_id: str) -> dict[str, Any] | None:
        """The order carrying ``client_order_id`` (open or closed), or None."""
        for endpoint, key in ((self.client.privatePostOpenOrders, "open"),
                              (self.client.privatePostClosedOrders, "closed")):
            found = self.read(endpoint, {"cl_ord_id": client_order_id})["result"][key]
            if found:
                return self.fetch_order(next(iter(found)))
        return None

    def await_outcome(self, client_order_id: str, deadline: float | None) -> dict[str, Any] | None:
        """Look ``client_order_id`` up in open and closed orders until it is found or ``deadline`` (unix seconds,
        as sent with the AddOrder) has passed by the margin: only then is it proven that the order never entered
        the book. Without a deadline (it was never sent) one lookup decides."""
        pause = self.settings.poll_seconds
        while True:
            try:
                found = self.find_by_client_id(client_order_id)
            except LiveError as exc:
                if deadline is None:
                    raise
                log.warning("looking %s up: %s; trying again", client_order_id, exc)
                found = None
            if found is not None:
                return found
            if deadline is None or time.time() > deadline + self.settings.deadline_margin_seconds:
                return None
            self._sleep(pause)
            pause = min(pause * 2, 2.0)

    def _placed(self, txid: str, client_order_id: str, symbol: str, side: str, order_type: str,
                amount: float) -> dict[str, Any]:
        """The exchange's view of an order it just accepted. Its status may lag behind the acceptance (query
        lag): a failed lookup is retried for a while and never means the order does not exist; if it stays
        invisible, the order is reported open with nothing filled, and later syncs read it by ``txid``."""
        pause = self.settings.poll_seconds
        until = time.monotonic() + self.settings.deadline_margin_seconds
        while True:
            try:
                return self.fetch_order(txid)
            except LiveError as exc:
                if isinstance(exc, CredentialsError) or time.monotonic() > until:
                    log.warning("order %s (%s) was accepted but cannot be read yet: %s", client_order_id, txid, exc)
                    return {"id": txid, "clientOrderId": client_order_id, "status": "open", "symbol": symbol,
                            "side": side, "type": order_type, "amount": amount, "filled": 0.0, "cost": 0.0,
                            "average": None, "fee": None, "trades": []}
            self._sleep(pause)
            pause = min(pause * 2, 2.0)

    def submit_order(self, symbol: str, side: str, order_type: str, amount: float, price: float | None = None,
                     client_order_id: str | None = None, post_only: bool = False,
                     on_send: Callable[[str, float], None] | None = None) -> dict[str, Any]:
        """Place an order exactly once; returns the exchange's order (ccxt shape). See the module docstring.

        ``on_send(client_order_id, deadline)`` is called before each AddOrder is sent, so the caller can persist
        the deadline that bounds the search after a crash."""
        client_order_id = client_order_id or new_client_order_id()
        base: dict[str, Any] = {"cl_ord_id": client_order_id}
        if post_only:
            base["oflags"] = "post"
        last_error: LiveError | None = None
        for attempt in range(self.settings.max_attempts):
            deadline = float(math.ceil(time.time() + self.settings.deadline_seconds))  # whole seconds, as sent
            if on_send is not None:
                on_send(client_order_id, deadline)
            params = {**base, "deadline": rfc3339(deadline)}
            try:
                placed = self.client.create_order(symbol, order_type, side, amount, price, params)
            except ccxt.BaseError as exc:
                error = translate(exc)
                in_use = isinstance(error, OrderRejected) and ("Duplicate order" in error.reason
                                                                or "Invalid arguments:cl_ord_id" in error.reason)
                if in_use:  # the id is taken by an open order: ours, sent before; find it, never send another
                    existing = self.await_outcome(client_order_id, deadline)
                    if existing is not None:
                        return existing
                elif isinstance(error, CredentialsError) or is_definite_rejection(exc):
                    raise error from exc
                last_error = error
                log.warning("placing %s: %s (attempt %d); looking it up until its deadline has passed",
                            client_order_id, error, attempt + 1)
                existing = self.await_outcome(client_order_id, deadline)
                if existing is not None:
                    log.warning("order %s was placed despite %s; not sending it again", client_order_id, error)
                    return existing
                self._backoff(attempt)
                continue
            return self._placed(placed["id"], client_order_id, symbol, side, order_type, amount)
        raise TemporaryError(f"order {client_order_id} could not be placed after {self.settings.max_attempts} "
                             f"attempts: {last_error}")
