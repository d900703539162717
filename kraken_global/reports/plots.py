"""The pictures of a run: ``report.png`` of a backtest (equity against buy-and-hold, regimes shaded, drawdown) and
of a paper or live session (value per live bar, fills marked, net P&L by pair and by strategy). matplotlib is
imported only when a plot is drawn."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kraken_global.runners.backtest import BacktestResult


def plot_report(result: BacktestResult, path: Path) -> None:
    """Equity against the baseline and buy-and-hold (regimes shaded; a model's in-sample window hatched), the
    drawdown, and the net P&L by pair and by month."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    equity = result.equity
    fig = plt.figure(figsize=(11, 9.5))
    grid = fig.add_gridspec(3, 2, height_ratios=[3, 1, 1.6])
    top = fig.add_subplot(grid[0, :])
    bottom = fig.add_subplot(grid[1, :], sharex=top)
    if "regime" in equity:
        shade_regimes(top, equity["regime"])
    if "in_sample" in equity and equity["in_sample"].any():
        inside = equity.index[equity["in_sample"].to_numpy(dtype=bool)]
        for axis in (top, bottom):
            axis.axvspan(inside[0], inside[-1], facecolor="none", edgecolor=(0.3, 0.3, 0.3, 0.3), hatch="//",
                         linewidth=0,
                         label="model's training window (in sample)" if axis is top else None)
    top.plot(equity.index, equity["value"], label=f"strategy: {result.config.strategy.name}", linewidth=1.2)
    if "baseline_value" in equity:
        top.plot(equity.index, equity["baseline_value"], label="baseline (SMA trend)", linewidth=1.0, alpha=0.8)
    if "benchmark_value" in equity:
        top.plot(equity.index, equity["benchmark_value"], linewidth=1.0, alpha=0.8,
                 label=f"buy & hold {result.config.universe.benchmark_symbol()}")
    top.set_yscale("log")
    top.set_ylabel("portfolio value (USD, log)")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.fill_between(equity.index, -equity["drawdown_pct"], 0, color="tab:red", alpha=0.4)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    breakdowns = result.metrics.get("breakdowns") or {}
    plot_pnl_bars(fig.add_subplot(grid[2, 0]), {k: v["net_pnl"] for k, v in breakdowns.get("by_pair", {}).items()},
                  "net P&L by pair (USD)")
    plot_pnl_bars(fig.add_subplot(grid[2, 1]), {k: v["pnl"] for k, v in breakdowns.get("by_month", {}).items()},
                  "P&L by month (USD)", vertical=True)
    perf = result.metrics["performance"]
    sharpe = "-" if perf["sharpe"] is None else f"{perf['sharpe']:.2f}"
    fig.suptitle(f"kraken-global backtest - return {perf['total_return_pct']:.1f}%, Sharpe {sharpe}, "
                 f"max drawdown {perf['max_drawdown_pct']:.1f}%")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_pnl_bars(axis, values: dict[str, float], title: str, vertical: bool = False) -> None:
    """Bars of P&L, gains green and losses red (months: one bar each, labelled by year)."""
    names, amounts = list(values), list(values.values())
    colours = ["tab:green" if v >= 0 else "tab:red" for v in amounts]
    if vertical:
        axis.bar(range(len(names)), amounts, color=colours)
        if len(names) <= 6:
            axis.set_xticks(range(len(names)), names)
        else:
            ticks = [i for i, name in enumerate(names) if name.endswith("-01") or i == 0]
            axis.set_xticks(ticks, [names[i][:4] for i in ticks])
    else:
        axis.barh(names, amounts, color=colours)
        axis.invert_yaxis()
    axis.axhline(0, color="0.3", linewidth=0.6) if vertical else axis.axvline(0, color="0.3", linewidth=0.6)
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)


REGIME_COLOURS = {"RISK_ON": "#2ca02c", "NEUTRAL": "#bbbbbb", "RISK_OFF": "#ff7f0e", "PANIC": "#d62728",
                  "WARMUP": "#6a5acd"}


def shade_regimes(axis, regimes) -> None:
    """Colour the background of ``axis`` by regime, one span per run of equal regimes."""
    from matplotlib.patches import Patch

    labels = regimes.ffill()
    starts = labels.ne(labels.shift())
    edges = [*list(labels.index[starts]), labels.index[-1]]
    names = list(labels[starts])
    for left, right, name in zip(edges[:-1], edges[1:], names, strict=True):
        if name in REGIME_COLOURS:
            axis.axvspan(left, right, color=REGIME_COLOURS[name], alpha=0.12, linewidth=0)
    handles = [Patch(color=c, alpha=0.3, label=n) for n, c in REGIME_COLOURS.items() if n in set(names)]
    axis.add_artist(axis.legend(handles=handles, loc="lower right", title="regime", fontsize=8))


def plot_session(result, path: Path) -> None:
    """A paper or live session's ``report.png``: value per live bar, each fill marked (buys ^, sells v), and
    below it the net P&L by pair and by strategy (closed + open - fees, from the session's ledger)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    equity = result.equity
    fig = plt.figure(figsize=(11, 8))
    grid = fig.add_gridspec(2, 2, height_ratios=[2.2, 1.2])
    axis = fig.add_subplot(grid[0, :])
    axis.plot(equity.index, equity.to_numpy(), label="portfolio value", linewidth=1.2)
    fills = result.fills
    if len(fills):
        stamps = pd.to_datetime(fills["dt"])
        at = equity.reindex(stamps, method="ffill").to_numpy()
        for side, marker, colour in (("buy", "^", "tab:green"), ("sell", "v", "tab:red")):
            chosen = (fills["side"] == side).to_numpy()
            axis.scatter(stamps[chosen], at[chosen], marker=marker, color=colour, s=40, label=f"{side} fills",
                         zorder=3)
    axis.set_ylabel("portfolio value (USD)")
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left")
    breakdowns = result.metrics.get("breakdowns") or {}
    for column, (key, title) in enumerate((("by_pair", "net P&L by pair (USD)"),
                                           ("by_strategy", "net P&L by strategy (USD)"))):
        values = {name: row["net_pnl"] for name, row in breakdowns.get(key, {}).items()}
        panel = fig.add_subplot(grid[1, column])
        if values:
            plot_pnl_bars(panel, values, title)
        else:
            panel.set_title(f"{title}: no round trips yet", fontsize=10)
            panel.set_axis_off()
    perf = result.metrics["performance"]
    fig.suptitle(f"kraken-global {result.mode} session - return {perf['total_return_pct']:.2f}%, "
                 f"{len(fills)} fills")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
