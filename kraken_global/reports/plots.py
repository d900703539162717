"""The pictures of a run: ``report.png`` of a backtest (equity against buy-and-hold, regimes shaded, drawdown) and
of a paper or live session (value per live bar, fills marked). matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kraken_global.runners.backtest import BacktestResult


def plot_report(result: BacktestResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    equity = result.equity
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=[3, 1])
    if "regime" in equity:
        shade_regimes(top, equity["regime"])
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
    perf = result.metrics["performance"]
    fig.suptitle(f"kraken-global backtest - return {perf['total_return_pct']:.1f}%, Sharpe {perf['sharpe']:.2f}, "
                 f"max drawdown {perf['max_drawdown_pct']:.1f}%")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
    """A paper or live session's ``report.png``: value per live bar, each fill marked (buys ^, sells v)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    equity = result.equity
    fig, axis = plt.subplots(figsize=(11, 5))
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
    perf = result.metrics["performance"]
    fig.suptitle(f"kraken-global {result.mode} session - return {perf['total_return_pct']:.2f}%, "
                 f"{len(fills)} fills")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
