"""Research over history: ``sweep`` (one backtest per combination of parameter values, on Dask)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kraken_global.cli.common import EXIT_OK, KG, check_folder, cluster, command, registry_config


def add_research_commands(commands, registry_options, cluster_options) -> None:
    sweep = command(commands, "sweep", "one backtest per combination of parameter values, on Dask",
                    f"{KG} sweep --config configs/quick.yaml --set strategy.params.fast=10,20",
                    (registry_options, cluster_options))
    sweep.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=V1,V2",
                       help="a config key and the values to try, e.g. strategy.params.fast=20,40,60 (repeatable)")
    sweep.add_argument("--out", type=Path, help="folder for sweep.csv (default: run.out of the config)")
    sweep.set_defaults(handler=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kraken_global.runners.progress import progress_bar
    from kraken_global.runners.sweep import parse_grid, run_sweep

    config = registry_config(args)
    grid = parse_grid(args.assignments)
    check_folder(args.out or config.run.out, "--out" if args.out else "run.out")
    console = Console(stderr=True)
    with cluster(config) as client, progress_bar(console, config.run.progress, "backtests") as on_done:
        table = run_sweep(config, grid, client, on_done)
    out = args.out or config.run.out
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "sweep.csv", index=False)
    print(table.to_string(index=False))
    print(f"sweep of {len(table)} backtests written to {out / 'sweep.csv'}")
    return EXIT_OK
