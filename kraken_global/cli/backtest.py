"""``kraken-global backtest``: a backtest on bundled or local Kraken data, its results folder and summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from kraken_global.cli.common import EXIT_OK, KG, check_folder, command, parse_date, split_pairs


def add_backtest_command(commands) -> None:
    parser = command(commands, "backtest", "run a backtest on bundled or local Kraken data",
                     f"{KG} backtest --config configs/quick.yaml --out results/quick",
                     description="Writes metrics.json, trades.csv (every fill with its strategy, regime and reason), "
                                 "equity.csv, config.yaml and\nreport.png to the results folder and prints the "
                                 "summary, the round trips by strategy and pair, and the returns by month.\nAn "
                                 "option left out takes the config's value (the built-in defaults without --config).")
    parser.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    parser.add_argument("--out", type=Path, help="results folder (default: run.out of the config)")
    parser.add_argument("--from", dest="start", type=parse_date,
                        help="first day evaluated, YYYY-MM-DD (UTC); earlier history is warm-up (default: data.start, "
                             "else the data's first day)")
    parser.add_argument("--to", dest="end", type=parse_date,
                        help="last day, YYYY-MM-DD, inclusive (UTC) (default: data.end, else the data's last day)")
    parser.add_argument("--pairs", nargs="+", metavar="PAIR",
                        help="pairs to trade, e.g. BTC/USD ETH/USD (default: universe.pairs, the 10 USD pairs)")
    parser.add_argument("--timeframe", help="candle size: 1h, 4h, 1d, ... (default: data.timeframe, 1h)")
    parser.add_argument("--seed", type=int, help="seed for the broker's random slippage (default: run.seed, 42)")
    parser.add_argument("--data-dir", type=Path, help="folder of Kraken CSV exports (default: data.directory, else "
                                                      "the bundled data: BTC, ETH, XRP and LTC to 2019-12)")
    parser.add_argument("--no-plot", action="store_true", help="skip report.png")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--model", choices=["none", "approved"],
                        help="filter entries with the approved model (default: ml.use_model, none)")
    parser.add_argument("--format", dest="data_format", choices=["auto", "cryptodatadownload", "ohlcvt", "trades"],
                        help="layout of the data files (default: detected from the first line)")
    parser.add_argument("--reference", help="pair whose closes drive the regimes (default: regimes.reference, "
                                            "BTC/USD)")
    parser.add_argument("--benchmark", help="pair held in the buy & hold column (default: universe.benchmark, "
                                            "BTC/USD)")
    parser.add_argument("--monte-carlo", action="store_true",
                        help="add a seeded block bootstrap of the daily returns (5/50/95%% of return, Sharpe, "
                             "max drawdown) to the summary and metrics.json")
    parser.add_argument("--stress", action="store_true",
                        help="run again at 1.5x and 2x fees and slippage and under the current Kraken schedule; "
                             "the figures and whether the edge survives 2x costs go to metrics.json")
    parser.set_defaults(handler=cmd_backtest)


def cmd_backtest(args: argparse.Namespace) -> int:
    from kraken_global.config import load_config

    config = load_config(args.config)
    overrides = {
        "run.out": str(args.out) if args.out else None,
        "data.start": args.start,
        "data.end": args.end,
        "universe.pairs": split_pairs(args.pairs) if args.pairs else None,
        "data.timeframe": args.timeframe,
        "run.seed": args.seed,
        "data.directory": str(args.data_dir) if args.data_dir else None,
        "run.plot": False if args.no_plot else None,
        "run.progress": False if args.no_progress else None,
        "ml.use_model": args.model,
        "data.format": args.data_format,
        "regimes.reference": args.reference,
        "universe.benchmark": args.benchmark,
    }
    config = config.with_overrides({k: v for k, v in overrides.items() if v is not None})
    check_folder(config.run.out, "--out" if args.out else "run.out")
    from rich.console import Console  # the heavy parts only once the input is known to be good

    from kraken_global.assembly.inputs import RunInputs
    from kraken_global.reports.research import cost_stress_line, monte_carlo_line
    from kraken_global.reports.summary import print_summary, write_results
    from kraken_global.runners.backtest import run_backtest
    from kraken_global.runners.progress import progress_bar
    from kraken_global.runners.stress import research_sections

    console = Console()
    inputs = RunInputs()  # a stress runs again on the same candles and plan
    with progress_bar(console, enabled=config.run.progress) as on_progress:
        result = run_backtest(config, on_progress=on_progress, inputs=inputs)
    result.metrics.update(research_sections(config, result.daily_returns(), args.monte_carlo, args.stress, inputs))
    out = write_results(result, config.run.out, plot=config.run.plot)
    print_summary(result, out, console)
    if args.monte_carlo:
        console.print(monte_carlo_line(result.metrics["monte_carlo"]))
    if args.stress:
        console.print(cost_stress_line(result.metrics["cost_stress"]))
    return EXIT_OK
