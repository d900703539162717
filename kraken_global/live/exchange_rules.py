"""The exchange's own pair rules for paper and live sessions: Kraken's ``AssetPairs`` read at start.

The bundled ``asset_pairs.json`` is a snapshot; Kraken changes ``ordermin``, ``costmin`` and precisions over time
(its own example shows XBTUSD ``ordermin`` 0.0001 where the snapshot says 0.00005). A session trading real money
must check orders against today's rules, so it reads them from the exchange when it starts and logs every
difference from the bundled file, once. Backtests keep the bundled rules, and so does a session that cannot read
``AssetPairs`` (offline fallback, with a warning).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from kraken_global.live.errors import LiveError
from kraken_global.universe import PairRules, Universe

log = logging.getLogger(__name__)

#: The rules a session takes from the exchange: (field, how Kraken's value is read).
FIELDS = (("ordermin", float), ("costmin", float), ("lot_decimals", int), ("pair_decimals", int),
          ("tick_size", float), ("status", str))
_reported: set[tuple[str, str]] = set()  # (symbol, differences) already logged by this process


def status_refusal(rules: PairRules, kind: str, post_only: bool, reduces: bool) -> str | None:
    """What the pair's market status (AssetPairs ``status``) refuses of an order of ``kind`` (market or limit), or
    None: ``cancel_only`` (and ``delisted``) takes no new order, ``post_only`` only post-only limit orders,
    ``limit_only`` no market order, ``reduce_only`` only orders that reduce a position."""
    status = rules.status
    if status in ("cancel_only", "delisted"):
        return f"market in {status} mode: Kraken takes no new order on {rules.symbol}"
    if status == "post_only" and not (kind == "limit" and post_only):
        return f"market in post_only mode: only post-only limit orders on {rules.symbol}"
    if status == "limit_only" and kind != "limit":
        return f"market in limit_only mode: no market orders on {rules.symbol}"
    if status == "reduce_only" and not reduces:
        return f"market in reduce_only mode: only orders that reduce a position on {rules.symbol}"
    return None


def rules_from_exchange(bundled: PairRules, entry: dict[str, Any]) -> PairRules:
    """``bundled`` with the values of Kraken's ``AssetPairs`` ``entry`` (fields Kraken leaves out keep theirs)."""
    changes = {name: cast(entry[name]) for name, cast in FIELDS if entry.get(name) is not None}
    return replace(bundled, **changes)


def differences(bundled: PairRules, exchange: PairRules) -> list[str]:
    return [f"{name} {getattr(bundled, name)!r} -> {getattr(exchange, name)!r}"
            for name, _ in FIELDS if getattr(bundled, name) != getattr(exchange, name)]


def exchange_universe(store, configured: Universe) -> Universe:
    """``configured`` with each pair's rules as the exchange states them now (see the module docstring)."""
    try:
        listed: dict[str, dict[str, Any]] = store.read(store.client.publicGetAssetPairs)["result"]
    except LiveError as exc:
        log.warning("cannot read the exchange's pair rules (%s): using the bundled ones", exc)
        return configured
    by_name = {name: entry for pid, entry in listed.items() for name in (pid, entry.get("altname"))}
    pairs = []
    for bundled in configured:
        entry = by_name.get(bundled.pair_id) or by_name.get(bundled.altname)
        if entry is None:
            pairs.append(bundled)
            continue
        exchange = rules_from_exchange(bundled, entry)
        changed = differences(bundled, exchange)
        key = (bundled.symbol, "; ".join(changed))
        if changed and key not in _reported:
            _reported.add(key)
            log.warning("%s: the exchange's rules differ from the bundled file (%s); following the exchange",
                        bundled.symbol, "; ".join(changed))
        pairs.append(exchange)
    return Universe(pairs)
