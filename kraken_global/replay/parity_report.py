"""The parity report for people: one table of the bars where session and backtest differ, and a verdict."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

MAX_ROWS = 50  # the rest is in parity.json


def _text(value: Any) -> str:
    return f"{value:.8g}" if isinstance(value, float) else str(value)


def print_parity(report: dict[str, Any], console: Console, json_path=None) -> None:
    console.print(f"parity of the {report['mode']} session in {report['session']}: live from {report['live_from']}"
                  f" to {report.get('last_bar')}, seed {report.get('seed')}, model {report.get('model') or 'none'}")
    if report.get("note"):
        console.print(report["note"])
    start = report.get("start_value") or {}
    if start.get("session") is not None and start.get("backtest") is not None and \
            abs(start["session"] - start["backtest"]) > 1e-6:
        console.print(f"note: the session started with a value of {start['session']:.2f}, the backtest with "
                      f"{start['backtest']:.2f} (broker.cash): order sizes follow the portfolio value")
    plan, orders, fills = report["plan"], report["orders"], report["fills"]
    console.print(f"compared {plan['compared']} live bars of the plan, {orders['compared']} orders "
                  f"(session {orders.get('session', 0)}, backtest {orders.get('backtest', 0)}), "
                  f"{fills['compared']} orders' fills")
    rows = sorted(plan["differences"] + orders["differences"] + fills["differences"], key=lambda d: d["bar"])
    if rows:
        table = Table(title="differences, bar by bar (bar = close time, UTC)")
        for column in ("bar", "what", "where", "session", "backtest"):
            table.add_column(column)
        for row in rows[:MAX_ROWS]:
            table.add_row(row["bar"], row["what"], row["where"], _text(row["session"]), _text(row["backtest"]))
        console.print(table)
        if len(rows) > MAX_ROWS:
            console.print(f"... {len(rows) - MAX_ROWS} more differences in parity.json")
    costs = [f for f in fills["per_order"] if f["cost_bps"] is not None]
    if costs:
        worst = max(costs, key=lambda f: abs(f["cost_bps"]))
        console.print(f"fill cost, session minus backtest: {fills['total_cost_usd']:+.4f} USD = "
                      f"{fills['total_cost_bps']:+.2f} bps of the backtest's notional over {len(costs)} orders "
                      f"(largest {worst['cost_bps']:+.2f} bps: {worst['bar']} {worst['symbol']} {worst['side']})")
    verdict = "decisions identical" if report["identical_decisions"] else "DECISIONS DIFFER"
    if report["identical_decisions"] and not report["identical"]:
        verdict += "; paper FILLS DIFFER"
    console.print(verdict + (f"; report in {json_path}" if json_path else ""))
