"""The pair rules the emulated exchange enforces and serves in ``AssetPairs``: the bundled ones, or the bundled ones
changed by a file, so tests and users can run an exchange whose rules drift from the bundled file (as Kraken's do).

The file is JSON shaped like Kraken's ``AssetPairs`` result (``{"result": {...}}`` or the result itself), keyed by
pair id or altname, each entry giving any of ``ordermin``, ``costmin``, ``lot_decimals``, ``pair_decimals``,
``tick_size``, ``status``; pairs it does not name keep the bundled rules.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from kraken_global.errors import ConfigError
from kraken_global.files import MB, read_json_limited
from kraken_global.universe import PairRules, Universe, asset_pairs_payload

MAX_ASSET_PAIRS_BYTES = 10 * MB  # Kraken's whole AssetPairs reply is about 1 MB
MAX_DECIMALS = 12  # as custom_pairs in a config
STATUSES = ("online", "cancel_only", "post_only", "limit_only", "reduce_only", "delisted")
_NUMBERS = {"ordermin": float, "costmin": float, "tick_size": float, "lot_decimals": int, "pair_decimals": int}


def decimal_text(value: float) -> str:
    """A float as Kraken writes decimals: a plain string, no exponent, no trailing zeros (``"0.00005"``)."""
    return format(Decimal(repr(value)).normalize(), "f")


def asset_pairs_reply(rules: dict[str, PairRules]) -> dict[str, dict[str, Any]]:
    """``AssetPairs`` result for ``rules`` (by pair id), every field of Kraken's spec with Kraken's types."""
    bundled = asset_pairs_payload()
    out = {}
    for pid, pair in rules.items():
        out[pid] = {
            "altname": pair.altname, "wsname": pair.wsname, "aclass_base": "currency", "base": pair.base,
            "aclass_quote": "currency", "quote": pair.quote, "lot": "unit",
            "cost_decimals": int(bundled.get(pid, {}).get("cost_decimals", 5)), "pair_decimals": pair.pair_decimals,
            "lot_decimals": pair.lot_decimals, "lot_multiplier": 1, "leverage_buy": [], "leverage_sell": [],
            "fees": [], "fees_maker": [], "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40,
            "ordermin": decimal_text(pair.ordermin), "costmin": decimal_text(pair.costmin),
            "tick_size": decimal_text(pair.tick_size), "status": pair.status,
        }
    return out


def _entry(name: str, fields: Any, where: str) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise ConfigError(f"{where}: {name} must map rule names to values")
    changes: dict[str, Any] = {}
    for field, value in fields.items():
        if field == "status":
            if value not in STATUSES:
                raise ConfigError(f"{where}: {name}.status must be one of {', '.join(STATUSES)}, got {value!r}")
            changes["status"] = value
        elif field in _NUMBERS:
            try:
                number = float(value) if not isinstance(value, bool) else math.nan  # Kraken sends "0.0001"
            except (TypeError, ValueError, OverflowError):
                number = math.nan
            if not math.isfinite(number) or number < 0:
                raise ConfigError(f"{where}: {name}.{field} must be a finite number >= 0, got {value!r}")
            if field == "tick_size" and number == 0:
                raise ConfigError(f"{where}: {name}.tick_size must be > 0")
            if _NUMBERS[field] is int and (number != int(number) or number > MAX_DECIMALS):
                raise ConfigError(f"{where}: {name}.{field} must be a whole number from 0 to {MAX_DECIMALS}, "
                                  f"got {value!r}")
            changes[field] = _NUMBERS[field](number)
    return changes


def apply_asset_pairs_file(rules: dict[str, PairRules], path: Path) -> dict[str, PairRules]:
    """``rules`` (by pair id) with the changes of the file at ``path``; unknown pairs or bad values raise
    :class:`ConfigError` naming the file and the key."""
    data = read_json_limited(Path(path), "asset pairs file", MAX_ASSET_PAIRS_BYTES)
    if isinstance(data, dict) and isinstance(data.get("result"), dict):
        data = data["result"]
    if not isinstance(data, dict):
        raise ConfigError(f"asset pairs file {path} must hold an object keyed by pair id, like Kraken's AssetPairs")
    known = Universe(rules.values())
    out = dict(rules)
    for name, fields in data.items():
        if name not in known:
            raise ConfigError(f"{path}: unknown pair {name!r}; known: {', '.join(sorted(rules))}")
        pair = known.resolve(name)
        out[pair.pair_id] = replace(out[pair.pair_id], **_entry(name, fields, str(path)))
    return out
