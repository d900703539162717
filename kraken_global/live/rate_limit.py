"""A client-side model of Kraken's private rate limits, so that the bot paces itself instead of collecting refusals.

Kraken counts private REST calls per API key on a counter that decays continuously: each call adds its cost (1; 2
for trade and ledger history), the counter falls by the tier's decay per second, and a call that would take it over
the tier's maximum is refused (``EAPI:Rate limit exceeded``). Placing and cancelling orders do not count there but
on the matching engine's trading counter, which has its own maximum and decay per tier (Kraken keeps it per pair
and charges more for cancelling a young order; one counter for all pairs, one unit per call, is the conservative
simplification here). ccxt's fixed pause between calls only approximates this (ccxt #27468).

:class:`RatePacer` waits before a call until the counter has room, and a refusal (Kraken knows better) fills the
counter, so the next call waits for it to decay.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from kraken_global.clocks import Clock

#: Calls that cost 2 on the REST counter (trade and ledger history).
HISTORY_CALLS = frozenset({"TradesHistory", "QueryTrades", "Ledgers", "QueryLedgers"})
#: Calls counted on the trading counter instead of the REST counter.
TRADING_CALLS = frozenset({"AddOrder", "CancelOrder", "CancelAll", "AddOrderBatch", "CancelOrderBatch",
                           "EditOrder", "AmendOrder"})


@dataclass(frozen=True)
class Tier:
    """One verification tier's limits: the REST counter's maximum and decay per second, the trading counter's."""

    rest_max: float
    rest_decay: float
    trading_max: float
    trading_decay: float


#: Kraken's spot REST and trading limits by tier (docs.kraken.com, spot REST and trading rate limits).
TIERS = {"starter": Tier(15, 0.33, 60, 1.0), "intermediate": Tier(20, 0.5, 125, 2.34),
         "pro": Tier(20, 1.0, 180, 3.75)}


class DecayCounter:
    """A counter that falls by ``decay`` per second and may not pass ``maximum``."""

    def __init__(self, maximum: float, decay: float, clock: Clock) -> None:
        self.maximum = maximum
        self.decay = decay
        self.clock = clock
        self.level = 0.0
        self._at = clock.time()
        self._lock = threading.Lock()

    def _decayed(self) -> float:
        now = self.clock.time()
        self.level = max(0.0, self.level - (now - self._at) * self.decay)
        self._at = now
        return self.level

    def wait_for(self, cost: float) -> float:
        """Seconds to wait before ``cost`` fits (0: it fits now; then it is counted)."""
        with self._lock:
            level = self._decayed()
            if level + cost <= self.maximum + 1e-9:  # (a clock of unix seconds cannot move by less)
                self.level = level + cost
                return 0.0
            return max((level + cost - self.maximum) / self.decay, 1e-3)

    def fill(self) -> None:
        """Kraken refused a call: take the counter to its maximum."""
        with self._lock:
            self._decayed()
            self.level = self.maximum


class RatePacer:
    """Paces the private calls of one API key (see the module docstring)."""

    def __init__(self, tier: str, clock: Clock) -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown rate tier {tier!r}; known: {', '.join(TIERS)}")
        limits = TIERS[tier]
        self.tier = tier
        self.clock = clock
        self.rest = DecayCounter(limits.rest_max, limits.rest_decay, clock)
        self.trading = DecayCounter(limits.trading_max, limits.trading_decay, clock)
        self.waited = 0.0  # seconds spent waiting, for the log and tests

    def _counter(self, method: str) -> DecayCounter:
        return self.trading if method in TRADING_CALLS else self.rest

    def acquire(self, method: str) -> None:
        """Wait until ``method`` fits in its counter, then count it."""
        cost = 2.0 if method in HISTORY_CALLS else 1.0
        counter = self._counter(method)
        while (pause := counter.wait_for(cost)) > 0:
            self.waited += pause
            self.clock.sleep(pause)

    def refused(self, method: str) -> None:
        self._counter(method).fill()

    def __repr__(self) -> str:
        return f"RatePacer({self.tier!r}, rest={self.rest.level:.1f}/{self.rest.maximum:g})"
