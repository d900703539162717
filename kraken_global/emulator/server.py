"""Run the emulator on 127.0.0.1, in this process (a background thread: tests) or in the foreground (CLI).

``host`` may widen that, for one case: an emulator in a container that sessions in other containers on the same
Docker network reach by its name (``scripts/docker-smoke.sh``). It is a test exchange with play money; it still
checks every signature."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import threading
from datetime import datetime
from pathlib import Path

import pandas as pd
from aiohttp import web

from kraken_global.clocks import SYSTEM, Clock, SkewedClock
from kraken_global.emulator.app import EmulatorApp
from kraken_global.emulator.clock import ReplayClock
from kraken_global.emulator.exchange import Account, Exchange
from kraken_global.emulator.faults import FaultPlan
from kraken_global.emulator.fills import DEFAULT_PARTICIPATION
from kraken_global.emulator.market import Market
from kraken_global.emulator.pair_rules import apply_asset_pairs_file
from kraken_global.emulator.permissions import parse_permissions
from kraken_global.errors import ConfigError
from kraken_global.feeds import bundled_data_dir, load_candles
from kraken_global.feeds.sources import BUNDLED_FILES
from kraken_global.fees import KRAKEN_LEGACY, FeeSchedule
from kraken_global.universe import catalog

DEFAULT_START = datetime(2019, 6, 1)
TICK_SECONDS = 0.1  # how often (real time) the exchange acts on what is due without a request (late acceptances)


def bundled_market() -> Market:
    universe = catalog()
    candles, rules = {}, {}
    for symbol, name in BUNDLED_FILES.items():
        pair = universe.resolve(symbol)
        candles[pair.pair_id] = load_candles(bundled_data_dir() / name)
        rules[pair.pair_id] = pair
    return Market(candles, rules)


def new_credentials() -> tuple[str, str]:
    """A random API key and base64 secret, as Kraken issues them."""
    return secrets.token_urlsafe(24), base64.b64encode(secrets.token_bytes(64)).decode()


class EmulatorServer:
    """The emulator with one account. Use as a context manager; ``base_url`` is ready inside it.

    ``speed``: market seconds per wall second (0 = the clock moves only with :meth:`advance`).
    ``permissions``: what the key may do (:mod:`~kraken_global.emulator.permissions`; default all).
    ``asset_pairs``: a file of pair rules that differ from the bundled ones (:mod:`~.pair_rules`).
    ``fees``: the fee schedule charged (default Kraken's legacy one; ``KRAKEN_PRO`` is today's).
    ``exchange_clock``: Kraken's own clock (``Time``, order and trade times, deadlines, late acceptance, query lag,
    the dead man's switch): the machine's by default; tests pass a :class:`~kraken_global.clocks.SteppedClock`.
    ``clock_skew``: seconds Kraken's clock runs ahead of ``exchange_clock`` (negative: behind), as a client whose
    own clock is off sees it.
    ``fault_delay``: real seconds a reply the client must miss is held; 0 drops the connection at once.
    ``fills``: ``close`` (taker orders fill at once at the last close) or ``path`` (in parts along the bars'
    paths, at most ``participation`` of their volume: :mod:`~kraken_global.emulator.fills`).
    :attr:`clock` is the market's replay clock (which candle is current).
    """

    def __init__(self, key: str | None = None, secret: str | None = None, start: datetime = DEFAULT_START,
                 speed: float = 0.0, balances: dict[str, float] | None = None, port: int = 0,
                 fault_delay: float = 10.0, market: Market | None = None,
                 permissions: frozenset[str] | None = None, asset_pairs: Path | None = None,
                 fees: FeeSchedule = KRAKEN_LEGACY, exchange_clock: Clock = SYSTEM, clock_skew: float = 0.0,
                 fills: str = "close", participation: float = DEFAULT_PARTICIPATION,
                 host: str = "127.0.0.1") -> None:
        generated_key, generated_secret = new_credentials()
        self.key = key or generated_key
        self.secret = secret or generated_secret
        self.exchange_clock: Clock = SkewedClock(exchange_clock, clock_skew) if clock_skew else exchange_clock
        self.clock = ReplayClock(start, speed, self.exchange_clock)
        self.market = market or bundled_market()
        if asset_pairs is not None:
            self.market.rules = apply_asset_pairs_file(self.market.rules, asset_pairs)
        self.balances = dict(balances or {"ZUSD": 10_000.0})
        account = Account(self.secret, dict(self.balances),
                          parse_permissions(None) if permissions is None else frozenset(permissions))
        self.exchange = Exchange(self.market, self.clock, {self.key: account}, fees, self.exchange_clock, fills,
                                 participation)
        self.faults = FaultPlan()
        self.app = EmulatorApp(self.exchange, self.faults, fault_delay)
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task | None = None
        self._ready = threading.Event()

    @property
    def base_url(self) -> str:
        """The URL a client on this host uses (127.0.0.1 when the emulator listens on every interface)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def advance(self, seconds: float) -> datetime:
        """Move the market (not Kraken's clock) forward by ``seconds``."""
        now = self.clock.advance(pd.Timedelta(seconds=seconds).to_pytimedelta())
        self.exchange.sync()
        return now

    def reset(self, balances: dict[str, float] | None = None) -> None:
        """The same server with a fresh account book (orders, trades, faults, timers): tests reuse one emulator
        for many cases instead of starting one per case."""
        if balances is not None:
            self.balances = dict(balances)
        self.exchange.reset({self.key: self.balances})
        self.app.reset()

    async def _tick(self) -> None:
        """Act on what is due on Kraken's clock even when no request comes (a late acceptance)."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.exchange.sync()
            except Exception:  # never let the ticker die: the next request syncs anyway
                continue

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app.build(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def start(self) -> EmulatorServer:
        failure: list[OSError] = []

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self._start())
            except OSError as exc:  # a busy port: reported by start() in the caller's thread
                failure.append(exc)
                self._ready.set()
                return
            self._ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="kraken-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the emulator did not start within 30 s")
        if failure:
            self._thread.join(30)
            self._loop.close()
            self._loop = None
            raise ConfigError(f"cannot listen on {self.host}:{self.port}: {failure[0].strerror or failure[0]} "
                              f"(another emulator running? choose another --port)")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._stop_ticker(), self._loop).result(30)
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()
        self._loop = None

    async def _stop_ticker(self) -> None:
        self._ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._ticker

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:  # never show the secret
        return f"EmulatorServer(url={self.base_url!r}, key={self.key[:4]}..., now={self.clock.now()})"
