"""Where a session and its backtest replay differ, bar by bar: regimes, targets, orders and fills.

Only the bars where the session was live are compared (from its first live bar on): replayed bars take no
decisions. *Decisions* are the regime and the strategy weights of each bar (regime system only) and every order
(bar, pair, strategy, side, size); they must be identical. *Fills* (order status, executed size, average price,
fee) must be identical in a paper session, which fills with the backtest's own broker; a live session fills on the
exchange, so there the report only says how much the fills cost more or less than the backtest's, per order and in
total, in USD and in basis points of the backtest's notional (positive: the session paid more); ``per_order`` entries
list each fill against its counterpart when both sides filled in as many parts.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from kraken_global.replay.parity import Replay, SessionRecord
from kraken_global.selection import STRATEGY_NAMES

WEIGHT_TOLERANCE = 1e-9  # the bar-by-bar and the vectorized plan agree to float rounding, not to the last bit
DEFAULT_SIZE_TOLERANCE = 1e-9  # relative


def compare(record: SessionRecord, replay: Replay, size_tolerance: float = DEFAULT_SIZE_TOLERANCE) -> dict[str, Any]:
    """The parity report (JSON-ready); ``identical`` is False when any decision, or any paper fill, differs."""
    live_from = min(record.live_from.values(), default=None)
    if live_from is None:
        return {"session": str(record.folder), "mode": record.mode, "live_from": None, "identical": True,
                "identical_decisions": True, "note": "the session never went live: no decision to compare",
                "plan": _empty(), "orders": _empty(), "fills": {**_empty(), "per_order": [], "total_cost_usd": 0.0,
                                                                  "total_cost_bps": 0.0}}
    plan = compare_plans(record.plan, replay.plan, live_from)
    orders, pairs = compare_orders(record.orders, replay.orders, live_from, size_tolerance)
    fills = compare_fills(record.fills, replay.fills, pairs, size_tolerance)
    decisions_identical = not plan["differences"] and not orders["differences"]
    fills_count = record.mode == "paper" and bool(fills["differences"])
    return {"session": str(record.folder), "mode": record.mode, "live_from": str(live_from),
            "last_bar": max((f["last_bar"] for f in record.replay["feeds"].values() if f.get("last_bar")),
                            default=None),
            "seed": record.replay.get("seed"), "model": record.replay.get("model"),
            "start_value": {"session": record.start_value, "backtest": replay.start_value},
            "identical_decisions": decisions_identical, "identical": decisions_identical and not fills_count,
            "plan": plan, "orders": orders, "fills": fills}


def _empty() -> dict[str, Any]:
    return {"compared": 0, "differences": []}


def _difference(bar, what: str, where: str, session, backtest, **extra) -> dict[str, Any]:
    return {"bar": str(bar), "what": what, "where": where, "session": session, "backtest": backtest, **extra}


def compare_plans(session: pd.DataFrame, backtest: pd.DataFrame, live_from: pd.Timestamp) -> dict[str, Any]:
    """Regime and weights of every live bar; a bar in one plan only is a difference too."""
    if session.empty and backtest.empty:
        return _empty()
    ours = session.set_index("datetime") if "datetime" in session else session
    ours = ours[ours.index >= live_from]
    theirs = backtest[(backtest.index >= live_from) & (backtest.index <= (ours.index.max() if len(ours) else
                                                                            live_from))]
    differences = []
    for bar in ours.index.difference(theirs.index):
        differences.append(_difference(bar, "plan", "bar", "present", "missing"))
    for bar in theirs.index.difference(ours.index):
        differences.append(_difference(bar, "plan", "bar", "missing", "present"))
    common = ours.index.intersection(theirs.index)
    for bar in common:
        mine, other = ours.loc[bar], theirs.loc[bar]
        if mine["regime"] != other["regime"]:
            differences.append(_difference(bar, "regime", "", mine["regime"], other["regime"]))
        for name in STRATEGY_NAMES:
            a, b = float(mine[name]), float(other[name])
            if not (abs(a - b) <= WEIGHT_TOLERANCE or (math.isnan(a) and math.isnan(b))):
                differences.append(_difference(bar, "target", name, a, b))
    differences.sort(key=lambda d: d["bar"])
    return {"compared": len(common), "differences": differences}


def _keyed(orders: pd.DataFrame, live_from: pd.Timestamp) -> dict[tuple, dict]:
    """Orders by (bar, pair, strategy, n-th order of that strategy on that pair and bar)."""
    keyed: dict[tuple, dict] = {}
    if orders.empty:
        return keyed
    frame = orders.copy()
    frame["bar"] = pd.to_datetime(frame["bar"])
    frame = frame[frame["bar"] >= live_from].sort_values("order_id", kind="stable")
    seen: dict[tuple, int] = {}
    for row in frame.to_dict("records"):
        base = (row["bar"], row["symbol"], row["strategy"])
        seen[base] = seen.get(base, 0) + 1
        keyed[(*base, seen[base])] = row
    return keyed


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def compare_orders(session: pd.DataFrame, backtest: pd.DataFrame, live_from: pd.Timestamp,
                   size_tolerance: float) -> tuple[dict[str, Any], list[tuple[dict, dict]]]:
    """Every order of the live bars, matched by bar, pair and strategy: side and size (relative tolerance) must
    agree. Returns the comparison and the matched (session, backtest) pairs for the fills."""
    ours, theirs = _keyed(session, live_from), _keyed(backtest, live_from)
    differences, pairs = [], []
    for key in sorted(set(ours) | set(theirs), key=lambda k: (k[0], k[1], k[2], k[3])):
        bar, symbol, strategy, _ = key
        where = f"{symbol} {strategy}"
        mine, other = ours.get(key), theirs.get(key)
        if mine is None or other is None:
            present = mine or other
            text = f"{present['side']} {present['size']:.8g}"
            differences.append(_difference(bar, "order", where, text if mine else "none", text if other else "none"))
            continue
        pairs.append((mine, other))
        if mine["side"] != other["side"]:
            differences.append(_difference(bar, "order side", where, mine["side"], other["side"]))
        elif _relative(float(mine["size"]), float(other["size"])) > size_tolerance:
            differences.append(_difference(bar, "order size", where, float(mine["size"]), float(other["size"]),
                                           relative=_relative(float(mine["size"]), float(other["size"]))))
    return {"session": len(ours), "backtest": len(theirs), "compared": len(pairs), "differences": differences}, pairs


def _executed(fills: pd.DataFrame, order_id) -> tuple[float, float, float]:
    """Executed size, average price and fee of one order's fills."""
    if fills.empty:
        return 0.0, 0.0, 0.0
    rows = fills[fills["order_id"] == order_id]
    size = float(rows["size"].sum())
    notional = float((rows["size"] * rows["price"]).sum())
    return size, notional / size if size else 0.0, float(rows["fee"].sum())


def _fill_rows(fills: pd.DataFrame, order_id) -> list[dict[str, Any]]:
    if fills.empty:
        return []
    rows = fills[fills["order_id"] == order_id]
    return [{"dt": str(r["dt"]), "size": float(r["size"]), "price": float(r["price"]), "fee": float(r["fee"])}
            for r in rows.to_dict("records")]


def _per_fill(side: str, mine: list[dict], other: list[dict]) -> list[dict[str, Any]]:
    """The n-th fill of the session against the n-th of the backtest, when both filled in as many parts."""
    if len(mine) != len(other):
        return []
    paired = []
    for a, b in zip(mine, other, strict=True):
        cost = (_unit_cost(side, a["price"], a["fee"], a["size"]) - _unit_cost(side, b["price"], b["fee"], b["size"])
                ) * a["size"]
        notional = b["price"] * a["size"]
        paired.append({"session": a, "backtest": b, "cost_usd": cost,
                       "cost_bps": cost / notional * 1e4 if notional else 0.0})
    return paired


def _unit_cost(side: str, price: float, fee: float, size: float) -> float:
    """What one unit cost the trader: a buy pays price and fee, a sell receives price less fee."""
    per_unit_fee = fee / size if size else 0.0
    return price + per_unit_fee if side == "buy" else -price + per_unit_fee


def compare_fills(session: pd.DataFrame, backtest: pd.DataFrame, pairs: list[tuple[dict, dict]],
                  size_tolerance: float) -> dict[str, Any]:
    """The outcome of every matched order: its last status (Completed, Rejected, ...), executed size, average
    price, fee, and the cost difference."""
    per_order, differences = [], []
    total_usd = total_notional = 0.0
    for mine, other in pairs:
        if mine.get("status") != other.get("status"):
            differences.append(_difference(mine["bar"], "order status", f"{mine['symbol']} {mine['strategy']}",
                                           mine.get("status"), other.get("status")))
        size_s, price_s, fee_s = _executed(session, mine["order_id"])
        size_b, price_b, fee_b = _executed(backtest, other["order_id"])
        if not size_s and not size_b:
            continue
        where = f"{mine['symbol']} {mine['strategy']} {mine['side']}"
        entry = {"bar": str(mine["bar"]), "symbol": mine["symbol"], "strategy": mine["strategy"],
                 "side": mine["side"], "session": {"size": size_s, "price": price_s, "fee": fee_s},
                 "backtest": {"size": size_b, "price": price_b, "fee": fee_b}, "cost_usd": None, "cost_bps": None,
                 "fills": _per_fill(mine["side"], _fill_rows(session, mine["order_id"]),
                                    _fill_rows(backtest, other["order_id"]))}
        if size_s and size_b:
            cost = (_unit_cost(mine["side"], price_s, fee_s, size_s) - _unit_cost(other["side"], price_b, fee_b,
                                                                                 size_b)) * size_s
            notional = price_b * size_s
            entry["cost_usd"], entry["cost_bps"] = cost, cost / notional * 1e4 if notional else 0.0
            total_usd += cost
            total_notional += notional
        per_order.append(entry)
        if _relative(size_s, size_b) > size_tolerance:
            differences.append(_difference(mine["bar"], "fill size", where, size_s, size_b))
        if size_s and size_b and _relative(price_s, price_b) > 1e-12:
            differences.append(_difference(mine["bar"], "fill price", where, price_s, price_b,
                                           bps=(price_s - price_b) / price_b * 1e4))
        if size_s and size_b and abs(fee_s - fee_b) > 1e-9 * max(fee_b, 1.0):
            differences.append(_difference(mine["bar"], "fill fee", where, fee_s, fee_b))
    return {"compared": len(per_order), "differences": differences, "per_order": per_order,
            "total_cost_usd": total_usd, "total_cost_bps": total_usd / total_notional * 1e4 if total_notional else 0.0}
