"""The tradable universe: canonical symbols, Kraken ids and per-pair exchange rules.

Kraken names one pair several ways (``BTC/USD``, id ``XXBTZUSD``, altname ``XBTUSD``, wsname ``XBT/USD``);
everything inside the project uses the canonical ccxt-style symbol and converts at the edges. The rules
(price and lot precision, ``ordermin``, ``costmin``, tick size) ship as data in ``bundled/asset_pairs.json`` in
the shape of Kraken's ``AssetPairs`` reply, so the paper broker, the live broker and the emulator agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from functools import cache
from importlib import resources

from kraken_global.errors import UnknownSymbolError

DEFAULT_UNIVERSE: tuple[str, ...] = (
    "BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD", "ADA/USD",
    "DOT/USD", "LINK/USD", "DOGE/USD", "POL/USD", "AVAX/USD",
)


@dataclass(frozen=True)
class PairRules:
    """Exchange rules of one Kraken spot pair.

    Sizes are in base units, costs in quote units. ``round_size`` truncates like Kraken and ccxt do (an order
    never grows); ``round_price`` rounds against the trader unless told otherwise.
    """

    symbol: str
    pair_id: str
    altname: str
    wsname: str
    base: str
    quote: str
    pair_decimals: int
    lot_decimals: int
    ordermin: float
    costmin: float
    tick_size: float
    status: str = "online"
    aliases: tuple[str, ...] = field(default_factory=tuple)
    verified: bool = False

    @property
    def base_currency(self) -> str:
        return self.symbol.split("/")[0]

    def round_size(self, size: float) -> float:
        """Truncate ``size`` toward zero to ``lot_decimals`` (Kraken rejects extra decimals).

        A size within float noise (1% of a lot) below a lot boundary is taken as on it: 0.00399999999999999
        is 0.004 computed in floats, and truncating it to 0.00399999 would silently drop a lot. (Sums of fills
        of thousands of units carry ~1e-12 of float error, a sizeable share of a 1e-8 lot.)
        """
        if not math.isfinite(size):
            raise ValueError(f"{self.symbol}: size must be finite, got {size}")
        quantum = Decimal(1).scaleb(-self.lot_decimals)
        exact = Decimal(repr(size))
        nearest = exact.quantize(quantum)
        if abs(exact - nearest) <= quantum * Decimal("0.01"):
            return float(nearest)
        return float(exact.quantize(quantum, rounding=ROUND_DOWN))

    def round_price(self, price: float, direction: str = "nearest") -> float:
        """Round ``price`` to the pair's tick: ``up``, ``down`` or ``nearest``."""
        tick = Decimal(str(self.tick_size))
        steps = Decimal(repr(price)) / tick
        mode = {"up": ROUND_CEILING, "down": ROUND_FLOOR}.get(direction)
        whole = steps.quantize(Decimal(1), rounding=mode) if mode else steps.quantize(Decimal(1))
        return float((whole * tick).quantize(Decimal(1).scaleb(-self.pair_decimals)))


class Universe:
    """A set of :class:`PairRules` with lookup by any of Kraken's names for a pair."""

    def __init__(self, pairs: Iterable[PairRules]) -> None:
        self._pairs: dict[str, PairRules] = {}
        self._index: dict[str, str] = {}
        for rules in pairs:
            self.add(rules)

    def add(self, rules: PairRules) -> None:
        self._pairs[rules.symbol] = rules
        for name in (rules.symbol, rules.pair_id, rules.altname, rules.wsname, *rules.aliases):
            self._index[_key(name)] = rules.symbol

    def resolve(self, name: str) -> PairRules:
        """Rules for ``name`` given as symbol, Kraken id, altname, wsname or alias (case-insensitive)."""
        symbol = self._index.get(_key(name))
        if symbol is None:
            known = ", ".join(sorted(self._pairs))
            raise UnknownSymbolError(f"unknown pair {name!r}; known pairs: {known}")
        return self._pairs[symbol]

    def symbol(self, name: str) -> str:
        return self.resolve(name).symbol

    def pair_id(self, name: str) -> str:
        return self.resolve(name).pair_id

    def select(self, names: Iterable[str]) -> Universe:
        """A new universe with only ``names`` (resolved, order kept, duplicates dropped)."""
        chosen: dict[str, PairRules] = {}
        for name in names:
            rules = self.resolve(name)
            chosen.setdefault(rules.symbol, rules)
        return Universe(chosen.values())

    @property
    def symbols(self) -> list[str]:
        return list(self._pairs)

    def __iter__(self):
        return iter(self._pairs.values())

    def __len__(self) -> int:
        return len(self._pairs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._index


def _key(name: str) -> str:
    return name.strip().upper()


@cache
def _catalog_json() -> dict:
    text = resources.files("kraken_global").joinpath("bundled/asset_pairs.json").read_text()
    return json.loads(text)["pairs"]


def rules_from_asset_pair(pair_id: str, entry: dict) -> PairRules:
    """Build :class:`PairRules` from one entry shaped like Kraken's ``AssetPairs`` result."""
    return PairRules(
        symbol=entry["symbol"],
        pair_id=pair_id,
        altname=entry["altname"],
        wsname=entry.get("wsname", entry["symbol"]),
        base=entry.get("base", entry["symbol"].split("/")[0]),
        quote=entry.get("quote", "ZUSD"),
        pair_decimals=int(entry["pair_decimals"]),
        lot_decimals=int(entry["lot_decimals"]),
        ordermin=float(entry["ordermin"]),
        costmin=float(entry.get("costmin", 0.0)),
        tick_size=float(entry.get("tick_size", 10.0 ** -int(entry["pair_decimals"]))),
        status=entry.get("status", "online"),
        aliases=tuple(entry.get("aliases", ())),
        verified=bool(entry.get("verified", False)),
    )


def catalog() -> Universe:
    """Every pair the project ships rules for (the default universe plus extras such as LTC/USD)."""
    return Universe(rules_from_asset_pair(pid, entry) for pid, entry in _catalog_json().items())


def asset_pairs_payload() -> dict[str, dict]:
    """The shipped rules as Kraken's ``AssetPairs`` result (for the emulator and for comparisons)."""
    return {pid: dict(entry) for pid, entry in _catalog_json().items()}


def build_universe(pairs: Iterable[str] = DEFAULT_UNIVERSE, custom: Iterable[PairRules] = ()) -> Universe:
    """The universe a run trades: ``pairs`` resolved against the catalog plus user-defined ``custom`` pairs."""
    known = catalog()
    for rules in custom:
        known.add(rules)
    return known.select(pairs)
