"""Kraken's order-entry semantics the client must survive: ``deadline``, late acceptance, query lag, and paged
trade history.

- ``deadline`` (AddOrder): an RFC3339 time after which the matching engine rejects the request. Kraken accepts
  now + 2 s to now + 60 s; anything else is refused. "Now" is Kraken's own clock (the emulator's exchange clock,
  the one ``Time`` reports), never the replayed market's.
- *Accepted late*: the client's request times out, yet the order reaches the book N seconds later, unless its
  deadline has passed by then (without a deadline Kraken may act on a queued request for about 90 s).
- *Query lag*: an order the engine accepted is invisible to OpenOrders, ClosedOrders and QueryOrders for N seconds.
- TradesHistory: newest first, 50 trades a page, ``ofs`` pages, ``start`` exclusive and ``end`` inclusive (unix
  time or a trade id), ``count`` is the number of trades that match (a string, as real replies write it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from kraken_global.emulator.errors import KrakenError

DEADLINE_MIN_SECONDS = 2.0
DEADLINE_MAX_SECONDS = 60.0
TRADES_PAGE = 50


def parse_deadline(text: str | None, received: float) -> float | None:
    """The deadline as unix seconds, checked against Kraken's window from ``received`` (Kraken's clock); None when
    the request has no deadline."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise KrakenError("EGeneral:Invalid arguments:deadline") from None
    if moment.tzinfo is None:
        raise KrakenError("EGeneral:Invalid arguments:deadline")
    deadline = moment.timestamp()
    if not received + DEADLINE_MIN_SECONDS <= deadline <= received + DEADLINE_MAX_SECONDS:
        raise KrakenError("EGeneral:Invalid arguments:deadline")
    return deadline


def deadline_passed(deadline: float | None, now: float) -> bool:
    return deadline is not None and now > deadline


class Visibility:
    """Orders hidden from the order queries until a moment of Kraken's clock (query lag)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._hidden_until: dict[str, float] = {}

    def hide(self, txid: str, seconds: float, since: float | None = None) -> None:
        """Hide ``txid`` for ``seconds`` from ``since`` (default: now)."""
        self._hidden_until[txid] = (self._now() if since is None else since) + seconds

    def clear(self) -> None:
        self._hidden_until.clear()

    def visible(self, txid: str) -> bool:
        until = self._hidden_until.get(txid)
        if until is None:
            return True
        if self._now() >= until:
            del self._hidden_until[txid]
            return True
        return False


def _bound(value: str | None, trades: dict[str, dict[str, Any]], name: str) -> float | None:
    if value in (None, ""):
        return None
    if value in trades:
        return float(trades[value]["time"])
    try:
        return float(value)
    except ValueError:
        raise KrakenError(f"EGeneral:Invalid arguments:{name}") from None


def trades_page(trades: dict[str, dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
    """One page of TradesHistory as Kraken gives it (see the module docstring)."""
    start = _bound(params.get("start"), trades, "start")
    end = _bound(params.get("end"), trades, "end")
    try:
        offset = int(params.get("ofs") or 0)
    except ValueError:
        raise KrakenError("EGeneral:Invalid arguments:ofs") from None
    if offset < 0:
        raise KrakenError("EGeneral:Invalid arguments:ofs")
    matching = [(tid, t) for tid, t in trades.items()
                if (start is None or t["time"] > start) and (end is None or t["time"] <= end)]
    newest_first = list(reversed(matching))  # trades are kept in the order they happened
    return {"trades": dict(newest_first[offset:offset + TRADES_PAGE]), "count": str(len(matching))}
