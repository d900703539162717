"""The Kraken store: one place that talks to Kraken through ccxt, and the rules that make that safe.

- **No network in the constructor**: :meth:`KrakenStore.start` connects (loads markets), :meth:`stop` drops it.
- **URLs configurable**, so tests and the emulator point it at 127.0.0.1 and production at Kraken.
- **Retries only where they are safe**: reads are retried on temporary errors with exponential backoff; an
  order rejected by the exchange is never retried.
- **Never double an order**: every order carries a client order id (``cl_ord_id``). When placing it fails in a
  way that leaves the outcome unknown (timeout, lost response, 5xx, rate limit), the store looks the id up on the
  exchange before anything else and returns the order it finds; it resends (with the same id) only when the
  exchange does not have it. A resend that the exchange refuses as a duplicate is looked up again.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ccxt

from kraken_global.live.credentials import Credentials
from kraken_global.live.errors import LiveError, OrderRejected, TemporaryError, translate

log = logging.getLogger(__name__)
CLIENT_ID_PREFIX = "kg"


@dataclass(frozen=True)
class StoreSettings:
    api_url: str | None = None  # None: Kraken itself
    timeout_ms: int = 10_000
    max_attempts: int = 5
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0
    enable_rate_limit: bool = True


def new_client_order_id() -> str:
    """``kg`` + 16 hex digits: unique, and within Kraken's 18-character limit for ``cl_ord_id``."""
    return CLIENT_ID_PREFIX + secrets.token_hex(8)


class KrakenStore:
    def __init__(self, credentials: Credentials | None, settings: StoreSettings = StoreSettings(),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.credentials = credentials
        self.settings = settings
        self._sleep = sleep
        self.exchange: ccxt.kraken | None = None

    def __repr__(self) -> str:
        return f"KrakenStore(url={self.settings.api_url or 'kraken'!r}, credentials={self.credentials!r})"

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> KrakenStore:
        options: dict[str, Any] = {"enableRateLimit": self.settings.enable_rate_limit,
                                   "timeout": self.settings.timeout_ms}
        if self.credentials is not None:
            options.update(apiKey=self.credentials.key, secret=self.credentials.secret)
        self.exchange = ccxt.kraken(options)
        if self.settings.api_url:
            self.exchange.urls["api"] = {"public": self.settings.api_url, "private": self.settings.api_url}
        self.read(self.exchange.load_markets)
        return self

    def stop(self) -> None:
        self.exchange = None

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

    def submit_order(self, symbol: str, side: str, order_type: str, amount: float, price: float | None = None,
                     client_order_id: str | None = None, post_only: bool = False) -> dict[str, Any]:
        """Place an order exactly once; returns the exchange's order (ccxt shape). See the module docstring."""
        client_order_id = client_order_id or new_client_order_id()
        params: dict[str, Any] = {"cl_ord_id": client_order_id}
        if post_only:
            params["oflags"] = "post"
        last_error: LiveError | None = None
        for attempt in range(self.settings.max_attempts):
            if attempt:
                existing = self.find_by_client_id(client_order_id)
                if existing is not None:
                    log.warning("order %s was placed despite %s; not sending it again", client_order_id, last_error)
                    return existing
            try:
                placed = self.client.create_order(symbol, order_type, side, amount, price, params)
                return self.fetch_order(placed["id"])
            except ccxt.BaseError as exc:
                error = translate(exc)
                if isinstance(error, OrderRejected) and ("Duplicate order" in error.reason
                                                         or "Invalid arguments:cl_ord_id" in error.reason):
                    existing = self.find_by_client_id(client_order_id)
                    if existing is not None:
                        return existing
                if not isinstance(error, TemporaryError):
                    raise error from exc
                last_error = error
                log.warning("placing %s: %s (attempt %d); checking the exchange before any resend",
                            client_order_id, error, attempt + 1)
                self._backoff(attempt)
        existing = self.find_by_client_id(client_order_id)
        if existing is not None:
            return existing
        raise TemporaryError(f"order {client_order_id} could not be placed after {self.settings.max_attempts} "
                             f"attempts: {last_error}")
