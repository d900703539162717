"""Research results for people: the sweep and walk-forward folders' files and console summaries, and the one-line
summaries of PBO, Monte Carlo and cost stress wherever they appear.

Folder files: ``metrics.json`` (sorted keys, no wall-clock times: byte-identical for the same data, config, grid
and seed), ``sweep.csv`` (one row per point, in grid order), ``walk_forward.csv`` (per out-of-sample day: the
window, the walk-forward's, the in-sample best's and buy-and-hold's returns, and the walk-forward's value) and
``config.yaml`` (the resolved config). ``sweep.json`` and ``points.jsonl`` are the sweep's own (see
:mod:`kraken_global.runners.sweep_store`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from kraken_global.config import BacktestConfig, dump_config
from kraken_global.reports.summary import json_ready

if TYPE_CHECKING:
    from kraken_global.research.walk_forward import WalkForwardResult

TOP_ROWS = 10


def write_json(path: Path, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(json_ready(data), indent=2, sort_keys=True, default=str) + "\n")


def write_sweep(out: Path, table: pd.DataFrame, summary: dict[str, Any], config: BacktestConfig) -> None:
    table.to_csv(Path(out) / "sweep.csv", index=False)
    write_json(Path(out) / "metrics.json", summary)
    (Path(out) / "config.yaml").write_text(dump_config(config))


def write_walk_forward(out: Path, result: WalkForwardResult, sweep: dict[str, Any], table: pd.DataFrame,
                       config: BacktestConfig) -> None:
    daily = result.daily.copy()
    daily["walk_forward_value"] = config.broker.cash * (1 + daily["walk_forward"]).cumprod()
    daily.to_csv(Path(out) / "walk_forward.csv")
    write_sweep(out, table, {**result.to_dict(), "sweep": sweep}, config)


def statistic_line(name: str, section: dict[str, Any] | None, summary) -> str:
    """``summary(section)``, or the refusal the section records."""
    if not section:
        return f"{name}: not computed"
    if "refused" in section:
        return f"{name}: not computed - {section['refused']}"
    return summary(section)


def pbo_line(section: dict[str, Any] | None) -> str:
    def text(p):
        slope = "n/a" if p["degradation_slope"] is None else f"{p['degradation_slope']:+.2f}"
        return (f"PBO {p['pbo']:.2f} (probability the best in-sample point is below the median out of sample; "
                f"{p['combinations']:,} CSCV splits, S={p['splits']}, {p['configurations']} configurations, "
                f"{p['days']} days); degradation slope {slope}; P(out-of-sample loss) {p['probability_of_loss']:.2f}")
    return statistic_line("PBO", section, text)


def monte_carlo_line(section: dict[str, Any] | None) -> str:
    def text(m):
        r, s, d = m["total_return_pct"], m["sharpe"], m["max_drawdown_pct"]
        return (f"Monte Carlo ({m['samples']} paths of {m['days']} days, {m['block_days']}-day blocks, seed "
                f"{m['seed']}), 5/50/95%: return {r['5%']:+.1f}/{r['50%']:+.1f}/{r['95%']:+.1f}%, Sharpe "
                f"{s['5%']:.2f}/{s['50%']:.2f}/{s['95%']:.2f}, max drawdown {d['5%']:.1f}/{d['50%']:.1f}/"
                f"{d['95%']:.1f}%; P(loss) {m['probability_of_loss']:.2f}")
    return statistic_line("Monte Carlo", section, text)


def cost_stress_line(section: dict[str, Any] | None) -> str:
    def text(c):
        parts = [f"{s['name']} {s['total_return_pct']:+.1f}% (Sharpe {s['sharpe']:.2f})" for s in c["scenarios"]]
        verdict = "survives" if c["survives_2x_costs"] else "does NOT survive"
        return f"cost stress: {'; '.join(parts)}; the edge {verdict} 2x costs"
    return statistic_line("cost stress", section, text)


def deflated_line(label: str, statistics: dict[str, Any]) -> str:
    return (f"{label}: PSR {statistics['probabilistic_sharpe']:.2f}, DSR {statistics['deflated_sharpe']:.2f} over "
            f"{statistics['trials']} trials in the ledger ({statistics['days']} days)")


def _values(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{key.rsplit('.', 1)[-1]}={value}" for key, value in overrides.items())


def print_sweep(table: pd.DataFrame, summary: dict[str, Any], out: Path, console: Console) -> None:
    """The best rows, then what the best row is worth: its DSR, a Monte Carlo of its days, the PBO."""
    objective = "sharpe" if summary["objective"] == "sharpe" else "total_return_pct"
    ran = table[table["error"].isna()] if "error" in table else table
    if objective in ran and len(ran):
        shown = ran.sort_values([objective, "point"], ascending=[False, True], kind="stable").head(TOP_ROWS)
        best = Table(title=f"The best {len(shown)} points by {summary['objective']}")
        keys = list(summary["grid"])
        for column in ("point", *(key.rsplit(".", 1)[-1] for key in keys), "return", "Sharpe", "max drawdown",
                       "round trips"):
            best.add_column(column, justify="right")
        for _, row in shown.iterrows():
            best.add_row(str(row["point"]), *(str(row[key]) for key in keys), f"{row['total_return_pct']:+.2f}%",
                         f"{row['sharpe']:.2f}", f"{row['max_drawdown_pct']:.2f}%", f"{row['round_trips']:.0f}")
        console.print(best)
    console.print(f"sweep of {summary['points']} points ({summary['finished']} finished, {summary['refused']} "
                  f"refused by the config) over {summary['days']} days; every point in {Path(out) / 'sweep.csv'}")
    for reason in summary["refusals"]:
        console.print(f"  refused: {reason}")
    best = summary.get("best")
    if best:
        console.print(deflated_line(f"best row (point {best['point']}: {_values(best['overrides'])}, Sharpe "
                                    f"{best['sharpe']:.2f})", best["statistics"]))
    console.print(monte_carlo_line(summary.get("monte_carlo")))
    console.print(pbo_line(summary.get("pbo")))


def print_walk_forward(result: WalkForwardResult, out: Path, console: Console) -> None:
    in_sample = (f"from {result.windows[0].window.in_sample_start}" if result.anchored
                 else f"the {result.in_sample_days} days before each")
    windows = Table(title=f"Walk-forward: {len(result.windows)} windows chosen by {result.objective} in sample "
                          f"({in_sample}), each traded out of sample")
    for column in ("#", "out of sample", "chosen", "IS score", "OOS return", "OOS Sharpe"):
        windows.add_column(column, justify="left" if column in ("out of sample", "chosen") else "right",
                           no_wrap=column == "out of sample", overflow="fold")
    for number, choice in enumerate(result.windows, start=1):
        oos = choice.out_of_sample
        windows.add_row(str(number), f"{choice.window.in_sample_end}..{choice.window.out_of_sample_last_day}",
                        _values(choice.overrides), f"{choice.in_sample_score:.2f}",
                        f"{oos['total_return_pct']:+.2f}%", f"{oos['sharpe']:.2f}")
    console.print(windows)
    stitched = result.stitched
    compare = Table(title=f"Out of sample, stitched: {stitched['first_day']} .. {stitched['last_day']} "
                          f"({stitched['days']} days)")
    for column in ("", "return", "Sharpe", "max drawdown"):
        compare.add_column(column, justify="right" if column else "left")
    rows = [("walk-forward (honest)", stitched),
            (f"in-sample best (point {result.in_sample_best['point']}: "
             f"{_values(result.in_sample_best['overrides'])})", result.in_sample_best["stitched_days"])]
    if result.buy_and_hold:
        rows.append((f"buy & hold {result.buy_and_hold['symbol']}", result.buy_and_hold))
    for label, figures in rows:
        compare.add_row(label, f"{figures['total_return_pct']:+.2f}%", f"{figures['sharpe']:.2f}",
                        f"{figures['max_drawdown_pct']:.2f}%")
    console.print(compare)
    steady = result.stability
    kept = "n/a" if steady["kept_share"] is None else f"{steady['kept_share']:.2f}"
    console.print(f"stability of the choices: kept from one window to the next {kept}; {steady['distinct_points']} "
                  f"distinct points in {steady['windows']} windows; changes per key: "
                  + ", ".join(f"{k.rsplit('.', 1)[-1]} {v}" for k, v in steady["changes_per_key"].items()))
    console.print(pbo_line(result.pbo))
    console.print(monte_carlo_line(result.monte_carlo) + " (of the stitched out-of-sample days)")
    console.print(cost_stress_line(result.cost_stress) + " (out-of-sample legs, same choices)")
    best = result.in_sample_best
    console.print(deflated_line(f"in-sample best over the whole period (Sharpe {best['whole_period']['sharpe']:.2f})",
                                result.best_row_statistics))
    console.print(f"results written to {out}/ (metrics.json, walk_forward.csv, sweep.csv)")
