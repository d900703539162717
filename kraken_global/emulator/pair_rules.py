"""The pair rules the emulated exchange enforces and serves in ``AssetPairs``: the bundled ones, or the bundled ones
changed by a file, so tests and users can run an exchange whose rules drift from the bundled file (as Kraken's do).

The file is JSON shaped like Kraken's ``AssetPairs`` result (``{"result": {...}}`` or the result itself), keyed by
pair id or altname, each entry giving any of ``ordermin``, ``costmin``, ``lot_decimals``, ``pair_decimals``,
``tick_size``, ``status``; pairs it does not name keep the bundled rules.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from kraken_global.errors import ConfigError
from kraken_global.universe import PairRules, Universe, asset_pairs_payload

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
                number = _NUMBERS[field](value)
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: {name}.{field} must be a number, got {value!r}") from None
            if not math.isfinite(number) or number < 0:
                raise ConfigError(f"{where}: {name}.{field} must be a finite number >= 0, got {value!r}")
            if field == "tick_size" and number == 0:
                raise ConfigError(f"{where}: {name}.tick_size must be > 0")
            changes[field] = number
    return changes


def apply_asset_pairs_file(rules: dict[str, PairRules], path: Path) -> dict[str, PairRules]:
    """``rules`` (by pair id) with the changes of the file at ``path``; unknown pairs or bad values raise
    :class:`ConfigError` naming the file and the key."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError:
        raise ConfigError(f"asset pairs file {path} cannot be read") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"asset pairs file {path} is not JSON: {exc.msg} (line {exc.lineno})") from None
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
