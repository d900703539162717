"""The console tables of a run's ledger and breakdowns (``metrics.json``'s ``trading`` and ``breakdowns``): the
reconciliation line, round trips by strategy and by pair, returns by month and year, best and worst round trips.
Backtests and sessions print the same tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.table import Table

from kraken_global.reports.tables import money, number, pct, table

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SHOWN_TRIPS = 3


def reconciliation_line(trading: dict[str, Any]) -> str:
    """The ledger's identity in words: closed + open - fees = the change of the portfolio's value."""
    r = trading["reconciliation"]
    line = (f"round trips add up: closed P&L {money(r['closed_pnl'], 2, True)} + open P&L "
            f"{money(r['open_pnl'], 2, True)} - fees {money(r['fees'], 2)} = {money(r['ledger_pnl'], 2, True)} USD"
            f" = final value - start value ({money(r['end_value'], 2)} - {money(r['start_value'], 2)}, "
            f"difference {round(r['difference'], 2) + 0.0:.2f})")  # + 0.0: no "-0.00"
    if r.get("unmatched_units"):
        line += f"; {r['unmatched_units']:g} units were sold that no recorded buy held"
    return line


def _trip_rows(groups: dict[str, dict[str, Any]]) -> list[list[str]]:
    return [[name, str(g["round_trips"]), str(g["open_round_trips"]), pct(g["win_rate_pct"], 0),
             number(g["profit_factor"]), money(g["expectancy"], signed=True), money(g["net_pnl"], signed=True),
             pct(g["contribution_pct"], 1, True), money(g.get("max_drawdown_usd"))] for name, g in groups.items()]


TRIP_COLUMNS = ("closed", "open", "won", "PF", "per trip", "net P&L", "of start", "max DD")


def strategy_table(breakdowns: dict[str, Any]) -> Table:
    return table("Round trips by strategy (FIFO from the fills; USD net of fees; PF: profit factor; per trip: "
                 "expectancy; max DD: of its own P&L)", ("strategy", *TRIP_COLUMNS),
                 _trip_rows(breakdowns["by_strategy"]), compact=True)


def pair_table(breakdowns: dict[str, Any]) -> Table:
    rows = _trip_rows(breakdowns["by_pair"])
    for row, group in zip(rows, breakdowns["by_pair"].values(), strict=True):
        row[4:6] = [money(group["closed_pnl"], signed=True), money(group["open_pnl"], signed=True)]
    columns = ("pair", "closed", "open", "won", "realized", "held", "net P&L", "of start", "max DD")
    return table("By pair (realized before fees; held: open positions at the last close)", columns, rows,
                 compact=True)


def _month_cell(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f}" if abs(value) >= 99.95 else f"{value:.1f}"


def month_grid(breakdowns: dict[str, Any]) -> Table:
    """Returns by month, one row per year (the traders' monthly returns table; the year's is in the next)."""
    months = breakdowns["by_month"]
    rows = [[year, *(_month_cell(months[f"{year}-{m:02d}"]["return_pct"]) if f"{year}-{m:02d}" in months else ""
                     for m in range(1, 13))] for year in breakdowns["by_year"]]
    return table("Return by month (%)", ("", *MONTHS), rows, compact=True)


def year_table(breakdowns: dict[str, Any]) -> Table:
    rows = [[year, pct(y["return_pct"], 1, True), money(y["pnl"], signed=True), pct(y["max_drawdown_pct"]),
             str(y["round_trips"]), money(y["fees"])] for year, y in breakdowns["by_year"].items()]
    return table("By year", ("year", "return", "P&L", "max DD", "trips closed", "fees"), rows, compact=True)


def trips_table(breakdowns: dict[str, Any], shown: int = SHOWN_TRIPS) -> Table | None:
    best, worst = breakdowns["round_trips"]["best"][:shown], breakdowns["round_trips"]["worst"][:shown]
    if not best and not worst:
        return None
    rows = [[label, t["strategy"], t["pair"], (t["opened"] or "-")[:10], t["exit_reason"], _days(t),
             money(t["net_pnl"], signed=True), pct(t["return_pct"], 0)]
            for label, trips in (("best", best), ("worst", worst)) for t in trips]
    return table(f"Best and worst round trips ({len(best)} each; all in metrics.json)",
                 ("", "strategy", "pair", "opened", "exit", "days", "net P&L", "return"), rows, left=5,
                 compact=True)


def _days(trip: dict[str, Any]) -> str:
    if not trip["opened"] or not trip["closed"]:
        return "-"
    held = datetime.fromisoformat(trip["closed"]) - datetime.fromisoformat(trip["opened"])
    return f"{held.total_seconds() / 86400:.1f}"


def breakdown_tables(metrics: dict[str, Any], periods: bool = True) -> list[Table]:
    """Every table of the breakdowns, in the order a trader reads them (``periods``: also months and years)."""
    b = metrics.get("breakdowns")
    if not b:
        return []
    tables = [strategy_table(b), pair_table(b)]
    if periods and b["by_month"]:
        tables += [month_grid(b), year_table(b)]
    trips = trips_table(b)
    return [*tables, trips] if trips is not None else tables
