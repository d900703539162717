"""``kraken-global backtest``: a backtest on bundled or local Kraken data, its results folder and summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from kraken_global.cli.common import EXIT_OK, KG, check_folder, command, parse_date, split_pairs


def add_backtest_command(commands) -> None:
    parser = command(commands, "backtest", "run a backtest on bundled or local Kraken data",
                     f"{KG} backtest --config configs/quick.yaml --out results/quick")
    parser.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    parser.add_argument("--out", type=Path, help="results folder (default: run.out of the config)")
    parser.add_argument("--from", dest="start", type=parse_date, help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--to", dest="end", type=parse_date, help="last day, YYYY-MM-DD, inclusive (UTC)")
    parser.add_argument("--pairs", nargs="+", metavar="PAIR", help="pairs to trade, e.g. BTC/USD ETH/USD")
    parser.add_argument("--timeframe", help="candle size: 1h, 4h, 1d, ...")
    parser.add_argument("--seed", type=int, help="seed for the broker's random slippage")
    parser.add_argument("--data-dir", type=Path, help="folder of Kraken CSV exports instead of bundled data")
    parser.add_argument("--no-plot", action="store_true", help="skip report.png")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--model", choices=["none", "approved"], help="filter entries with the approved model")
    parser.add_argument("--format", dest="data_format", choices=["auto", "cryptodatadownload", "ohlcvt", "trades"],
                        help="layout of the data files (default: detected from the first line)")
    parser.add_argument("--reference", help="pair whose closes drive the regimes (regimes.reference)")
    parser.add_argument("--benchmark", help="pair held in the buy & hold column (universe.benchmark)")
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

    from kraken_global.reports.summary import print_summary, write_results
    from kraken_global.runners.backtest import run_backtest
    from kraken_global.runners.progress import progress_bar

    console = Console()
    with progress_bar(console, enabled=config.run.progress) as on_progress:
        result = run_backtest(config, on_progress=on_progress)
    out = write_results(result, config.run.out, plot=config.run.plot)
    print_summary(result, out, console)
    return EXIT_OK
