"""Writes a run's results folder and prints its summary table.

Folder contents: ``metrics.json`` (deterministic: sorted keys, no wall-clock times, so two runs of the same
config, data and seed are byte-identical), ``trades.csv`` (every fill), ``equity.csv`` (value, drawdown and
benchmark per bar), ``config.yaml`` (the resolved config) and ``report.png``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from kraken_global.config import dump_config
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


def plot_report(result: BacktestResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    equity = result.equity
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=[3, 1])
    top.plot(equity.index, equity["value"], label=f"strategy: {result.config.strategy.name}", linewidth=1.2)
    if "benchmark_value" in equity:
        top.plot(equity.index, equity["benchmark_value"], label=f"buy & hold {result.config.universe.benchmark}",
                 linewidth=1.0, alpha=0.8)
    top.set_yscale("log")
    top.set_ylabel("portfolio value (USD, log)")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.fill_between(equity.index, -equity["drawdown_pct"], 0, color="tab:red", alpha=0.4)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    perf = result.metrics["performance"]
    fig.suptitle(f"kraken-global backtest - return {perf['total_return_pct']:.1f}%, Sharpe {perf['sharpe']:.2f}, "
                 f"max drawdown {perf['max_drawdown_pct']:.1f}%")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary_table(result: BacktestResult) -> Table:
    m = result.metrics
    perf, trading, exposure, bench, run = (m["performance"], m["trading"], m["exposure"], m["benchmark"], m["run"])
    table = Table(title=f"Backtest {run['first_bar']} -> {run['last_bar']} ({run['timeframe']}, {run['bars']} bars)")
    table.add_column("metric")
    table.add_column(f"{run['strategy']}", justify="right")
    table.add_column(f"buy & hold {bench['symbol']}", justify="right")

    def pct(value):
        return "-" if value is None else f"{value:,.2f}%"

    has_bench = bench.get("available", False)
    table.add_row("total return", pct(perf["total_return_pct"]), pct(bench.get("total_return_pct")))
    table.add_row("annualized return", pct(perf["annualized_return_pct"]), "")
    table.add_row("Sharpe (365, daily)", f"{perf['sharpe']:.2f}", f"{bench['sharpe']:.2f}" if has_bench else "-")
    table.add_row("max drawdown", pct(perf["max_drawdown_pct"]), pct(bench.get("max_drawdown_pct")))
    table.add_row("tail loss (ES 95%, daily)", pct(perf["tail_loss_pct"]), pct(bench.get("tail_loss_pct")))
    table.add_row("turnover (mean daily)", f"{trading['turnover']:.3f}x", "")
    table.add_row("final value", f"{perf['end_value']:,.2f} USD", "")
    table.add_row("fees paid", f"{trading['fees_paid']:,.2f} USD", "")
    table.add_row("slippage paid", f"{trading.get('slippage_paid', 0):,.2f} USD", "")
    table.add_row("round trips (win rate)", f"{trading['trades']} ({trading['win_rate_pct']:.0f}%)", "")
    table.add_row("rejected orders", str(trading.get("rejected_orders", 0)), "")
    table.add_row("mean exposure", pct(exposure["mean_exposure_pct"]), "")
    return table


def print_summary(result: BacktestResult, out: Path | None, console: Console | None = None) -> None:
    console = console or Console()
    console.print(summary_table(result))
    run = result.metrics["run"]
    console.print(f"pairs traded: {', '.join(run['pairs_traded'])}")
    if run["pairs_without_data"]:
        console.print(f"pairs without data in this period (they join when data exists): "
                      f"{', '.join(run['pairs_without_data'])}")
    if out is not None:
        console.print(f"results written to {out}/")
