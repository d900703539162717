"""The dashboard's document: what every view of a session or a run is made of.

The page (``static/dashboard.js``) draws whatever sections the document has; a missing one is simply not shown::

    {"kind": "session" | "backtest" | "sweep" | "gates", "title": str, "live": bool, "generated": str,
     "summary": [[label, value], ...], "health": [[label, value, ok], ...],
     "equity": {"t": [...], "value": [...], "benchmark": [...], "benchmark_name": str},
     "regimes": [{"from": t, "to": t, "regime": str}, ...],
     "positions": table, "open_orders": table, "fills": table, "model": {...}, "gates": table,
     "ramp": {...}, "controls": {...}, "parity": {...}, "shadow": table, "table": table, "log": [str], "audit": table}

A table is ``{"title": str, "columns": [...], "rows": [[...], ...]}`` with plain JSON values.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from kraken_global.sessions.audit_trail import read_trail

LOG_LINES = 150
FILL_ROWS = 100
PREFERRED_FILL_COLUMNS = ("dt", "symbol", "side", "size", "price", "fee", "strategy", "regime", "reason",
                          "liquidity", "notional", "order_id")


def now_text() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())


def plain(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None (JSON has no NaN), numpy scalars become Python numbers."""
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def table(title: str, columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"title": title, "columns": list(columns), "rows": [[plain(v) for v in row] for row in rows]}


def records_table(title: str, records: list[dict[str, Any]], preferred: tuple[str, ...] = ()) -> dict[str, Any]:
    """Records (dicts) as a table: the ``preferred`` columns first, in that order, then any others they carry."""
    seen: list[str] = [c for c in preferred if any(c in r for r in records)]
    for record in records:
        seen += [c for c in record if c not in seen]
    return table(title, seen, [[r.get(c) for c in seen] for r in records])


def fills_table(records: list[dict[str, Any]], total: int | None = None) -> dict[str, Any]:
    """The latest fills first, with strategy, regime and reason when the fills carry them."""
    latest = list(reversed(records))[:FILL_ROWS]
    count = total if total is not None else len(records)
    return records_table(f"latest fills ({len(latest)} of {count})", latest, PREFERRED_FILL_COLUMNS)


def regime_runs(times: list[str], regimes: list[Any]) -> list[dict[str, Any]]:
    """Consecutive bars of one regime as one span (bars without a regime are left out)."""
    runs: list[dict[str, Any]] = []
    for when, regime in zip(times, regimes, strict=False):
        if regime is None or (isinstance(regime, float) and math.isnan(regime)):
            continue
        if runs and runs[-1]["regime"] == regime:
            runs[-1]["to"] = when
        else:
            runs.append({"from": when, "to": when, "regime": str(regime)})
    return runs


def positions_table(positions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rows = [[symbol, p.get("size"), p.get("cost_price"), p.get("price"), p.get("value"), p.get("pnl")]
            for symbol, p in (positions or {}).items()]
    return table("positions", ["pair", "size", "cost price", "last close", "value USD", "unrealized P&L USD"], rows)


def orders_table(orders: list[dict[str, Any]]) -> dict[str, Any]:
    return records_table("open orders", orders or [], ("id", "symbol", "side", "size", "status"))


def gates_table(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """A gates report's verdict per gate."""
    if not report:
        return None
    rows = [[g.get("name"), g.get("value"), g.get("threshold"), g.get("passed"), g.get("line") or g.get("rule")]
            for g in report.get("gates", [])]
    verdict = "passed" if report.get("passed") else "failed"
    return table(f"gates: {verdict}", ["gate", "value", "threshold", "passed", "rule"], rows)


def log_tail(path: Path | str | None, lines: int = LOG_LINES) -> list[str] | None:
    """The last ``lines`` lines of a log file (read from its end: a long session's log is never read whole)."""
    if not path:
        return None
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(size - 256 * lines, 0))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    return text.splitlines()[-lines:]


def audit_table(folder: Path, limit: int = 30) -> dict[str, Any] | None:
    entries = read_trail(Path(folder) / "audit.jsonl")
    if not entries:
        return None
    rows = [[e.get("seq"), e.get("time"), e.get("action"), e.get("actor"), e.get("details")]
            for e in entries[-limit:]]
    return table(f"audit trail ({len(entries)} entries, hash-chained)", ["#", "time (UTC)", "action", "by", "details"],
                 list(reversed(rows)))


def money(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, int | float) and math.isfinite(value) else "-"


def percent(value: Any) -> str:
    return f"{value:.2f}%" if isinstance(value, int | float) and math.isfinite(value) else "-"


def model_facts(model: dict[str, Any] | None, report: dict[str, Any] | None) -> dict[str, Any] | None:
    if not model or not model.get("id"):
        return None
    return {"id": model.get("id"), "sha256": model.get("sha256"),
            "verdict": None if report is None else ("passed" if report.get("passed") else "failed"),
            "gates": gates_table(report)}
