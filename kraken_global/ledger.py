"""One ledger for every trading figure: round trips built FIFO from the fills, per strategy sleeve and pair.

backtrader's own trade counter cannot serve: strategies of the regime system share one broker, so a "trade" of
backtrader is a position of the whole portfolio in a pair, opened by one sleeve and closed by another. Here the
fills themselves are the books (each fill says which strategy placed it, see :mod:`kraken_global.order_reasons`):

- **Lots**: a buy opens a lot in its strategy's sleeve for that pair; a sell consumes that sleeve's lots first in,
  first out. Its realized P&L is ``(sell price - lot price) x units``, before fees. A sell no sleeve placed (the
  kill switch sells the whole account) consumes the lots of every sleeve holding the pair, oldest lot first, and
  its fee is shared in proportion to the units each sleeve gave up.
- **Round trip**: one sleeve's position in one pair from flat to flat. It belongs to the regime and has the reason
  of its first fill; its P&L is the realized P&L of its sells, plus (while still open) the unrealized P&L of its
  remaining lots at the last close, minus every fee of its fills.
- **The identity**: ``closed P&L + open P&L - fees = final value - start value``, in total, and the same sum per
  strategy, per pair and per regime partitions the total (each round trip is in exactly one of each). A test
  checks it on whole backtests and sessions; a property test on random fill sequences.

Everything here is a pure function of plain values: fills as mappings, marks as prices.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kraken_global.order_reasons import NO_REGIME, PORTFOLIO

DUST = 1e-9  # units below this are float residue, not a position (the sleeves use the same threshold)
HELD_AT_START = "held at start"


@dataclass
class RoundTrip:
    """One sleeve's position in one pair from flat to flat (``closed`` is None while it is open)."""

    number: int
    strategy: str
    symbol: str
    regime: str
    entry_reason: str
    opened: Any
    closed: Any = None
    exit_reason: str | None = None
    bought: float = 0.0  # units bought
    cost: float = 0.0  # USD paid for them, before fees
    sold: float = 0.0  # units sold (by this sleeve or, for it, by the kill switch)
    proceeds: float = 0.0  # USD received for them, before fees
    realized: float = 0.0  # FIFO P&L of the units sold, before fees
    unrealized: float = 0.0  # P&L of the units still held at the last close (open round trips)
    fees: float = 0.0
    held: float = 0.0  # units still held

    @property
    def is_open(self) -> bool:
        return self.closed is None

    @property
    def net(self) -> float:
        return self.realized + self.unrealized - self.fees

    @property
    def return_pct(self) -> float:
        """Net P&L in percent of the USD put in."""
        return 100.0 * self.net / self.cost if self.cost > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "strategy": self.strategy, "pair": self.symbol, "regime": self.regime,
                "opened": None if self.opened is None else str(self.opened),
                "closed": None if self.closed is None else str(self.closed),
                "entry_reason": self.entry_reason, "exit_reason": self.exit_reason,
                "units_bought": self.bought, "cost_usd": self.cost, "proceeds_usd": self.proceeds,
                "realized_pnl": self.realized, "unrealized_pnl": self.unrealized, "fees": self.fees,
                "net_pnl": self.net, "return_pct": self.return_pct}


@dataclass
class Allocation:
    """A fill, or the part of a shared fill (the kill switch's) that belongs to one sleeve."""

    dt: Any
    strategy: str
    symbol: str
    signed_size: float  # + bought, - sold
    price: float
    fee: float


@dataclass
class _Lot:
    size: float
    price: float
    trip: RoundTrip


@dataclass
class Ledger:
    """The round trips and the totals of the identity; ``unmatched_units``: units sold that no lot held (the
    identity then cannot hold, and says by how much)."""

    trips: list[RoundTrip] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)
    fees: float = 0.0
    unmatched_units: float = 0.0

    @property
    def closed_pnl(self) -> float:
        return sum(t.realized for t in self.trips)

    @property
    def open_pnl(self) -> float:
        return sum(t.unrealized for t in self.trips)

    @property
    def net(self) -> float:
        return self.closed_pnl + self.open_pnl - self.fees


def _get(fill: Mapping | Any, name: str, default: Any = None) -> Any:
    return fill.get(name, default) if isinstance(fill, Mapping) else getattr(fill, name, default)


def build_ledger(fills: Iterable[Mapping | Any], marks: Mapping[str, float],
                 opening: Iterable[Mapping] = (), end_reason: str | None = None) -> Ledger:
    """The ledger of ``fills`` (in execution order; mappings or objects with ``dt, symbol, side, size, price, fee,
    strategy, regime, reason``), valued at ``marks`` (the last close of each pair).

    ``opening``: positions held before the first fill (``strategy, symbol, size, price, dt``; a live account can
    start with some), valued at ``price``. ``end_reason``: the exit reason shown for round trips still open."""
    ledger = Ledger()
    lots: dict[tuple[str, str], deque[_Lot]] = {}
    current: dict[tuple[str, str], RoundTrip] = {}

    def trip_for(key: tuple[str, str], fill) -> RoundTrip:
        trip = current.get(key)
        if trip is None:
            trip = RoundTrip(len(ledger.trips) + 1, key[0], key[1], _get(fill, "regime") or NO_REGIME,
                             _get(fill, "reason") or HELD_AT_START, _get(fill, "dt"))
            ledger.trips.append(trip)
            current[key] = trip
        return trip

    def buy(key: tuple[str, str], fill, size: float, price: float, fee: float) -> None:
        trip = trip_for(key, fill)
        trip.bought += size
        trip.cost += size * price
        trip.fees += fee
        trip.held += size
        lots.setdefault(key, deque()).append(_Lot(size, price, trip))
        ledger.allocations.append(Allocation(_get(fill, "dt"), key[0], key[1], size, price, fee))

    for position in opening:
        size = float(position["size"])
        if size > DUST:
            key = (position.get("strategy") or HELD_AT_START, position["symbol"])
            buy(key, {**position, "reason": HELD_AT_START}, size, float(position["price"]), 0.0)
            ledger.allocations.pop()  # held before the run: no cash changed hands in it
    for fill in fills:
        symbol, strategy = _get(fill, "symbol"), _get(fill, "strategy") or PORTFOLIO
        size, price, fee = float(_get(fill, "size")), float(_get(fill, "price")), float(_get(fill, "fee") or 0.0)
        ledger.fees += fee
        if _get(fill, "side") == "buy":
            buy((strategy, symbol), fill, size, price, fee)
            continue
        taken = _consume(lots, (strategy, symbol), size, price)
        for key, units in taken.items():
            share = fee * units / size if size > 0 else 0.0
            trip = current[key]
            trip.fees += share
            ledger.allocations.append(Allocation(_get(fill, "dt"), key[0], symbol, -units, price, share))
            if not lots.get(key):
                trip.closed, trip.exit_reason = _get(fill, "dt"), _get(fill, "reason")
                del current[key]
        unmatched = size - sum(taken.values())
        if unmatched > DUST:
            ledger.unmatched_units += unmatched
            ledger.allocations.append(Allocation(_get(fill, "dt"), strategy, symbol, -unmatched, price,
                                                 fee * unmatched / size))
    for (_, symbol), queue in lots.items():
        for lot in queue:
            lot.trip.unrealized += (marks.get(symbol, lot.price) - lot.price) * lot.size
    for trip in current.values():
        trip.exit_reason = end_reason
    return ledger


def _consume(lots: dict[tuple[str, str], deque[_Lot]], key: tuple[str, str], size: float,
             price: float) -> dict[tuple[str, str], float]:
    """Take ``size`` units out of the lots, FIFO: the seller's own sleeve first, then (a sell no sleeve owns, or
    one larger than its sleeve) every sleeve holding the pair, oldest lot first. Returns units taken per sleeve."""
    others = sorted((k for k in lots if k[1] == key[1] and k != key and lots[k]), key=lambda k: lots[k][0].trip.number)
    order = [key, *others]
    taken: dict[tuple[str, str], float] = {}
    remaining = size
    for owner in order:
        queue = lots.get(owner)
        while queue and remaining > DUST:
            lot = queue[0]
            units = min(lot.size, remaining)
            lot.trip.realized += (price - lot.price) * units
            lot.trip.sold += units
            lot.trip.proceeds += units * price
            lot.trip.held -= units
            lot.size -= units
            remaining -= units
            taken[owner] = taken.get(owner, 0.0) + units
            if lot.size <= DUST:
                queue.popleft()
        if remaining <= DUST:
            break
    return taken


def trade_stats(trips: Iterable[RoundTrip]) -> dict[str, Any]:
    """Closed round trips: count, wins (net P&L > 0), losses, win rate, average win and loss, profit factor
    (gross wins / gross losses; None without a loss), expectancy (mean net P&L per round trip)."""
    closed = [t.net for t in trips if not t.is_open]
    wins = [p for p in closed if p > 0]
    losses = [p for p in closed if p <= 0]
    lost = -sum(losses)
    return {
        "round_trips": len(closed),
        "wins": len(wins),
        "losses": len(losses),
        "win_rate_pct": 100.0 * len(wins) / len(closed) if closed else None,
        "average_win": sum(wins) / len(wins) if wins else None,
        "average_loss": sum(losses) / len(losses) if losses else None,
        "profit_factor": sum(wins) / lost if lost > 0 else None,
        "expectancy": sum(closed) / len(closed) if closed else None,
    }


def pnl_summary(trips: Iterable[RoundTrip]) -> dict[str, Any]:
    """The identity's terms over ``trips`` and the trade statistics of the closed ones."""
    trips = list(trips)
    closed, opened = sum(t.realized for t in trips), sum(t.unrealized for t in trips)
    fees = sum(t.fees for t in trips)
    return {"closed_pnl": closed, "open_pnl": opened, "fees": fees, "net_pnl": closed + opened - fees,
            "open_round_trips": sum(1 for t in trips if t.is_open), **trade_stats(trips)}


def group_trips(trips: Iterable[RoundTrip], key: Callable[[RoundTrip], str]) -> dict[str, list[RoundTrip]]:
    groups: dict[str, list[RoundTrip]] = {}
    for trip in trips:
        groups.setdefault(key(trip), []).append(trip)
    return dict(sorted(groups.items()))


def reconcile(ledger: Ledger, start_value: float, end_value: float) -> dict[str, float]:
    """The identity, written out: its two sides and the difference (0 up to float rounding when the books hold)."""
    change = end_value - start_value
    return {"closed_pnl": ledger.closed_pnl, "open_pnl": ledger.open_pnl, "fees": ledger.fees,
            "ledger_pnl": ledger.net, "start_value": start_value, "end_value": end_value, "value_change": change,
            "difference": ledger.net - change, "unmatched_units": ledger.unmatched_units}
