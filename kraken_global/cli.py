"""The ``kraken-global`` command line.

Errors of the project's own family are printed as one clear message without a traceback; the exit code is
2 for bad input (config, data, arguments) and 1 for other failures, so scripts can tell them apart.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from kraken_global import __version__
from kraken_global.errors import KrakenGlobalError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def _pairs(values: list[str]) -> list[str]:
    return [p.strip() for value in values for p in value.split(",") if p.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kraken-global", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"kraken-global {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bt_parser = commands.add_parser("backtest", help="run a backtest on bundled or local Kraken data")
    bt_parser.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    bt_parser.add_argument("--out", type=Path, help="results folder (default: run.out of the config)")
    bt_parser.add_argument("--from", dest="start", type=_date, help="first day, YYYY-MM-DD (UTC)")
    bt_parser.add_argument("--to", dest="end", type=_date, help="last day, YYYY-MM-DD, inclusive (UTC)")
    bt_parser.add_argument("--pairs", nargs="+", metavar="PAIR", help="pairs to trade, e.g. BTC/USD ETH/USD")
    bt_parser.add_argument("--timeframe", help="candle size: 1h, 4h, 1d, ...")
    bt_parser.add_argument("--seed", type=int, help="seed for the broker's random slippage")
    bt_parser.add_argument("--data-dir", type=Path, help="folder of Kraken CSV exports instead of bundled data")
    bt_parser.add_argument("--no-plot", action="store_true", help="skip report.png")
    bt_parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    bt_parser.set_defaults(handler=cmd_backtest)
    return parser


def cmd_backtest(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kraken_global.config import load_config
    from kraken_global.runners.backtest import run_backtest
    from kraken_global.runners.progress import progress_bar
    from kraken_global.runners.report import print_summary, write_results

    config = load_config(args.config)
    overrides = {
        "run.out": str(args.out) if args.out else None,
        "data.start": args.start,
        "data.end": args.end,
        "universe.pairs": _pairs(args.pairs) if args.pairs else None,
        "data.timeframe": args.timeframe,
        "run.seed": args.seed,
        "data.directory": str(args.data_dir) if args.data_dir else None,
        "run.plot": False if args.no_plot else None,
        "run.progress": False if args.no_progress else None,
    }
    config = config.with_overrides({k: v for k, v in overrides.items() if v is not None})
    console = Console()
    with progress_bar(console, enabled=config.run.progress) as on_progress:
        result = run_backtest(config, on_progress=on_progress)
    out = write_results(result, config.run.out, plot=config.run.plot)
    print_summary(result, out, console)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KrakenGlobalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
