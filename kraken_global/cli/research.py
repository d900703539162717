"""Research over history: ``sweep`` (one backtest per point of a grid), ``optimize`` (walk-forward optimization with
PBO, Monte Carlo and cost stress) and ``research`` (Monte Carlo, cost stress or PBO of a results folder)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kraken_global.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    KG,
    check_folder,
    cluster,
    command,
    parse_date,
    registry_config,
)

SET_HELP = "a config key and the values to try, e.g. strategy.params.fast=20,40 (repeatable; no default: one at least)"


def add_research_commands(commands, registry_options, cluster_options) -> None:
    sweep = command(commands, "sweep", "one backtest per point of a parameter grid, on Dask, resumable",
                    f"{KG} sweep --config configs/quick.yaml --set strategy.params.fast=10,20 --out results/sweep",
                    (registry_options, cluster_options),
                    "Points are appended to OUT/points.jsonl as they finish: run the same command again after an "
                    "interruption\nand it resumes. OUT/sweep.csv and OUT/metrics.json (the best row's DSR over "
                    "the trial ledger,\na Monte Carlo of its days, the PBO of choosing it) are written at the end.")
    sweep.add_argument("--out", type=Path, help="folder of the sweep (default: run.out of the config)")
    sweep.set_defaults(handler=cmd_sweep)

    optimize = command(commands, "optimize", "walk-forward optimization: choose in sample, trade out of sample",
                       f"{KG} optimize --config configs/walk-forward.yaml --set "
                       "regimes.thresholds.trend_band=0.01,0.02,0.04,0.06 --set "
                       "strategy.per_strategy.TrendFollower.stop_atr=2,3,4,6 --out results/walk-forward",
                       (registry_options, cluster_options),
                       "Every point runs once over the period (a resumable sweep in OUT); in each window the best "
                       "point in sample\nby research.objective is traded fresh out of sample, and the legs are "
                       "stitched. Prints the windows'\nchoices and their stability, the stitched result beside the "
                       "in-sample best and buy-and-hold, PBO,\na Monte Carlo and the cost stress; all of it in "
                       "OUT/metrics.json.")
    optimize.add_argument("--out", type=Path, help="results folder (default: run.out of the config)")
    optimize.add_argument("--in-sample-days", type=int, help="days each window chooses on "
                                                             "(default: research.in_sample_days, 180)")
    optimize.add_argument("--out-of-sample-days", type=int, help="days each choice trades "
                                                                 "(default: research.out_of_sample_days, 60)")
    optimize.add_argument("--anchored", action="store_true", help="in-sample windows all start at the first day")
    optimize.add_argument("--objective", choices=["sharpe", "total_return"],
                          help="what a window maximizes (default: research.objective, sharpe)")
    optimize.add_argument("--json", action="store_true", help="print metrics.json instead of the tables")
    optimize.set_defaults(handler=cmd_optimize)
    for parser in (sweep, optimize):
        parser.add_argument("--set", dest="assignments", action="append", metavar="KEY=V1,V2", help=SET_HELP)
        parser.add_argument("--from", dest="start", type=parse_date, help="first day, YYYY-MM-DD (default: data.start)")
        parser.add_argument("--to", dest="end", type=parse_date, help="last day, inclusive (default: data.end)")

    research = command(commands, "research", "Monte Carlo, cost stress or PBO of a results folder",
                       f"{KG} research monte-carlo results/quick", (), "FOLDER is a backtest's results folder, or "
                       "a sweep's or walk-forward's (then --point picks a point;\nby default the best row by "
                       "research.objective, or the stitched out-of-sample days of a walk-forward).")
    kinds = research.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind, summary in (("monte-carlo", "a seeded block bootstrap of the daily returns: 5th, 50th and 95th "
                                          "percentiles of return, Sharpe and max drawdown"),
                          ("stress", "the same run at 1.5x and 2x fees and slippage and under the current Kraken "
                                     "schedule"),
                          ("pbo", "the probability of backtest overfitting of a sweep (CSCV)")):
        sub = command(kinds, kind, summary, f"{KG} research {kind} results/sweep")
        sub.add_argument("folder", type=Path, metavar="FOLDER", help="a results, sweep or walk-forward folder")
        sub.add_argument("--json", action="store_true", help="print JSON instead of a line")
        if kind != "pbo":
            sub.add_argument("--point", type=int, help="a point of a sweep folder (default: its best row)")
        if kind == "monte-carlo":
            sub.add_argument("--samples", type=int, help="paths (default: research.monte_carlo_samples, 2000)")
            sub.add_argument("--block", type=int, help="days per block (default: round(days ** (1/3)))")
            sub.add_argument("--seed", type=int, help="seed (default: run.seed of the folder's config)")
        if kind == "pbo":
            sub.add_argument("--splits", type=int, help="S, an even number (default: research.pbo_splits, 16)")
        sub.set_defaults(handler=cmd_research)


def _grid_and_config(args: argparse.Namespace):
    from kraken_global.runners.grid import parse_grid

    config = registry_config(args)
    period = {"data.start": args.start, "data.end": args.end}
    config = config.with_overrides({k: v for k, v in period.items() if v is not None})
    grid = parse_grid(args.assignments or [])
    out = args.out or config.run.out
    check_folder(out, "--out" if args.out else "run.out")
    return config, grid, out


def cmd_sweep(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kraken_global.reports.research import print_sweep, write_sweep
    from kraken_global.runners.progress import progress_bar
    from kraken_global.runners.sweep import run_sweep, sweep_summary

    config, grid, out = _grid_and_config(args)
    console = Console(stderr=True)
    with cluster(config) as client, progress_bar(console, config.run.progress, "points", "sweep") as on_done:
        store = run_sweep(config, grid, out, client, on_done)
    summary, table = sweep_summary(store, config, grid), store.table()
    write_sweep(out, table, summary, config)
    print_sweep(table, summary, out, Console())
    return EXIT_OK if "best" in summary else EXIT_BAD_INPUT


def cmd_optimize(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kraken_global.cli.common import print_json
    from kraken_global.reports.research import print_walk_forward, write_walk_forward
    from kraken_global.reports.summary import json_ready
    from kraken_global.runners.optimize import walk_forward
    from kraken_global.runners.progress import progress_bar
    from kraken_global.runners.sweep import sweep_overview
    from kraken_global.runners.sweep_store import SweepStore

    config, grid, out = _grid_and_config(args)
    overrides = {"research.in_sample_days": args.in_sample_days, "research.out_of_sample_days":
                 args.out_of_sample_days, "research.anchored": True if args.anchored else None,
                 "research.objective": args.objective}
    config = config.with_overrides({k: v for k, v in overrides.items() if v is not None})
    console = Console(stderr=True)
    with cluster(config) as client, progress_bar(console, config.run.progress, "tasks", "optimize") as on_done:
        result = walk_forward(config, grid, out, client, on_done)
    store = SweepStore(out)
    overview = sweep_overview(store, grid, store.returns_matrix()[0])
    write_walk_forward(out, result, overview, store.table(), config)
    if args.json:
        print_json(json_ready({**result.to_dict(), "sweep": overview}))
    else:
        print_walk_forward(result, out, Console())
    return EXIT_OK


def cmd_research(args: argparse.Namespace) -> int:
    from kraken_global.cli.common import print_json
    from kraken_global.reports.research import cost_stress_line, monte_carlo_line, pbo_line
    from kraken_global.reports.summary import json_ready
    from kraken_global.runners.folders import folder_research

    section = folder_research(args.folder, args.kind, point=getattr(args, "point", None),
                              samples=getattr(args, "samples", None), block=getattr(args, "block", None),
                              seed=getattr(args, "seed", None), splits=getattr(args, "splits", None))
    if args.json:
        print_json(json_ready(section))
    else:
        line = {"monte-carlo": monte_carlo_line, "stress": cost_stress_line, "pbo": pbo_line}[args.kind]
        print(f"{section['source']}: {line(section)}")
    return EXIT_OK
