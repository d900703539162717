"""Writes a run's results folder and prints its summary table.

Folder contents: ``metrics.json`` (deterministic: sorted keys, no wall-clock times, so two runs of the same
config, data and seed are byte-identical), ``trades.csv`` (every fill), ``equity.csv`` (value, drawdown and
benchmark per bar), ``config.yaml`` (the resolved config) and ``report.png``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from kraken_global.config import dump_config
from kraken_global.reports.plots import plot_report

if TYPE_CHECKING:
    from kraken_global.runners.backtest import BacktestResult


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if not math.isfinite(value) else value
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def metrics_json(result: BacktestResult) -> str:
    return json.dumps(_clean(result.metrics), indent=2, sort_keys=True) + "\n"


def write_results(result: BacktestResult, out: Path, plot: bool = True) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(metrics_json(result))
    result.fills.to_csv(out / "trades.csv", index=False)
    result.equity.to_csv(out / "equity.csv")
    (out / "config.yaml").write_text(dump_config(result.config))
    if plot:
        plot_report(result, out / "report.png")
    return out


def regime_tables(result: BacktestResult) -> list[Table]:
    system = result.metrics.get("regime_system")
    if not system:
        return []
    regimes = Table(title="Regimes: share of time and portfolio P&L (attributed to the regime the positions "
                          "were decided in)")
    for column in ("regime", "share of time", "bars", "P&L (USD)"):
        regimes.add_column(column, justify="left" if column == "regime" else "right")
    for name, row in system["regimes"].items():
        if row["occurred"]:
            regimes.add_row(name, f"{row['share_of_time_pct']:.1f}%", str(row["bars"]), f"{row['pnl_usd']:,.0f}")
        else:
            regimes.add_row(name, "did not occur", "0", "-")
    strategies = Table(title="Strategies: time holding a slot and P&L by regime (USD, net of fees)")
    strategies.add_column("strategy")
    strategies.add_column("slot time", justify="right")
    strategies.add_column("P&L", justify="right")
    for name in system["regimes"]:
        strategies.add_column(name, justify="right")
    for name, row in system["strategies"].items():
        by_regime = row.get("pnl_by_regime", {})
        strategies.add_row(name, f"{row.get('active_share_pct', 0):.1f}%", f"{row.get('pnl', 0):,.0f}",
                           *(f"{by_regime.get(r, 0):,.0f}" for r in system["regimes"]))
    return [regimes, strategies]


def summary_table(result: BacktestResult) -> Table:
    m = result.metrics
    perf, trading, exposure, bench, run = (m["performance"], m["trading"], m["exposure"], m["benchmark"], m["run"])
    baseline = m.get("baseline")
    table = Table(title=f"Backtest {run['first_bar']} -> {run['last_bar']} ({run['timeframe']}, {run['bars']} bars)")
    table.add_column("metric")
    table.add_column(f"{run['strategy']}", justify="right")
    if baseline:
        table.add_column("baseline", justify="right")
    table.add_column(f"buy & hold {bench['symbol']}", justify="right")

    def pct(value):
        return "-" if value is None else f"{value:,.2f}%"

    def row(label, ours, base, hold):
        table.add_row(label, ours, *([base] if baseline else []), hold)

    has_bench = bench.get("available", False)
    b = baseline or {}
    row("total return", pct(perf["total_return_pct"]), pct(b.get("total_return_pct")),
        pct(bench.get("total_return_pct")))
    row("annualized return", pct(perf["annualized_return_pct"]), pct(b.get("annualized_return_pct")), "")
    row("Sharpe (365, daily)", f"{perf['sharpe']:.2f}", f"{b.get('sharpe', 0):.2f}",
        f"{bench['sharpe']:.2f}" if has_bench else "-")
    row("max drawdown", pct(perf["max_drawdown_pct"]), pct(b.get("max_drawdown_pct")),
        pct(bench.get("max_drawdown_pct")))
    row("tail loss (ES 95%, daily)", pct(perf["tail_loss_pct"]), pct(b.get("tail_loss_pct")),
        pct(bench.get("tail_loss_pct")))
    row("turnover (mean daily)", f"{trading['turnover']:.3f}x", "", "")
    row("final value", f"{perf['end_value']:,.2f} USD", f"{b['end_value']:,.2f} USD" if baseline else "", "")
    row("fees paid", f"{trading['fees_paid']:,.2f} USD", "", "")
    row("slippage paid", f"{trading.get('slippage_paid', 0):,.2f} USD", "", "")
    row("round trips (win rate)", f"{trading['trades']} ({trading['win_rate_pct']:.0f}%)", "", "")
    row("rejected orders", str(trading.get("rejected_orders", 0)), "", "")
    row("mean exposure", pct(exposure["mean_exposure_pct"]), "", "")
    if exposure.get("max_pair"):
        row("largest share of one pair", f"{pct(exposure['max_pair_share_pct'])} ({exposure['max_pair']})", "", "")
    return table


def notes(result: BacktestResult) -> list[str]:
    """What the summary must say in words: warm-up, a missing benchmark, the largest pair share."""
    m = result.metrics
    run, lines = m["run"], []
    warmup = run.get("warmup") or {}
    if warmup.get("evaluation_start"):
        lines.append(f"evaluated from {warmup['evaluation_start']}; {warmup['bars_available']} earlier bars loaded "
                     f"as warm-up (needed {warmup['bars_needed']})")
        if warmup.get("missing_days"):
            lines.append(f"warning: the data lacks {warmup['missing_days']:g} days of history before "
                         f"{warmup['evaluation_start']} for the warm-up; the first bars of the period are warm-up")
    lines += [f"warning: {notice}" for notice in run.get("notices", [])]
    bench = m.get("benchmark") or {}
    if bench and not bench.get("available", False):
        lines.append(f"buy & hold benchmark: {bench.get('symbol')} has no data in this run "
                     "(choose another with --benchmark PAIR or universe.benchmark)")
    return lines


def print_summary(result: BacktestResult, out: Path | None, console: Console | None = None) -> None:
    console = console or Console()
    console.print(summary_table(result))
    for table in regime_tables(result):
        console.print(table)
    system = result.metrics.get("regime_system") or {}
    if system.get("regimes_not_seen"):
        console.print(f"regimes that did not occur in this period: {', '.join(system['regimes_not_seen'])}")
    run = result.metrics["run"]
    model = result.metrics.get("model")
    if model:
        point = ", ".join(f"{k} {v}" for k, v in sorted((model.get("operating_point") or {}).items()))
        console.print(f"model: {model['id']} (sha256 {model['sha256']}) at {point}")
    for line in notes(result):
        console.print(line)
    console.print(f"pairs traded: {', '.join(run['pairs_traded'])}")
    if run["pairs_without_data"]:
        console.print(f"pairs without data in this period (they join when data exists): "
                      f"{', '.join(run['pairs_without_data'])}")
    if out is not None:
        console.print(f"results written to {out}/")
