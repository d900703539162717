"""The fee rates the account actually pays, read from Kraken's ``TradeVolume`` when a session starts.

Kraken's fees depend on the account (its 30-day volume, its schedule) and change over time (the 2026-07 schedule
doubled the first tier's taker fee; AssetPairs' per-pair fee ladders went stale and were emptied in 2026-09). A
live session and a paper session with credentials therefore read the account's maker and taker rate at start and
use them: the paper broker charges them, the live broker reserves the taker fee when it checks a buy against its
cash. Without credentials (``TradeVolume`` is private) or when it cannot be read, the configured preset's first
tier is used, and the session says so. The rates and where they came from are logged and put in ``metrics.json``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kraken_global.fees import FeeSchedule
from kraken_global.live.errors import LiveError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountFees:
    maker: float
    taker: float
    source: str

    def schedule(self) -> FeeSchedule:
        return FeeSchedule.flat(self.maker, self.taker)

    def as_metrics(self) -> dict:
        return {"maker_pct": round(self.maker * 100, 6), "taker_pct": round(self.taker * 100, 6),
                "source": self.source}


def configured_fees(schedule: FeeSchedule, why: str) -> AccountFees:
    maker, taker = schedule.rates(0.0)
    return AccountFees(maker, taker, f"preset {schedule.name} ({why})")


def read_account_fees(store, symbol: str, fallback: FeeSchedule) -> AccountFees:
    """The account's rates for ``symbol`` from TradeVolume, or ``fallback``'s first tier when they cannot be read."""
    if store is None or store.credentials is None:
        fees = configured_fees(fallback, "no credentials: TradeVolume is private")
    else:
        try:
            maker, taker = store.fetch_trading_fees(symbol)
            fees = AccountFees(maker, taker, "TradeVolume")
        except LiveError as exc:
            fees = configured_fees(fallback, f"TradeVolume could not be read: {exc}")
    log.info("fees: maker %.4f%%, taker %.4f%% (%s)", fees.maker * 100, fees.taker * 100, fees.source)
    return fees


__all__ = ["AccountFees", "configured_fees", "read_account_fees"]
