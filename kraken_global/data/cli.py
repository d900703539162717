"""The ``kraken-global data download|import|list`` subcommands (parsers and handlers, kept out of cli.py).

Imported by every ``kraken-global`` call to build the parser: heavy imports (pandas, ccxt) stay in the handlers."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_FOLDER = Path("data")


def add_data_command(commands, date_type, pairs_type) -> None:
    """Register ``data`` and its three subcommands on the top-level ``commands`` subparsers."""
    kg = ".venv/bin/kraken-global"
    data = commands.add_parser(
        "data", help="download, import or list Kraken history in a data folder",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Download, import or list Kraken history in a data folder (Kraken's OHLCVT layout, which every "
                    "command reads).\n`download` tops up from the last stored bar and resumes after an "
                    "interruption; `import` reads Kraken's archive files;\n`list` shows pairs, timeframes, first and "
                    "last bar and gaps. Each action's --help has its options.",
        epilog=f"example:\n  {kg} data download --pairs SOL/USD ADA/USD --timeframe 1h --data-dir data\n"
               f"  {kg} data list --data-dir data")
    sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    down = sub.add_parser("download", help="fetch candles from Kraken (public Trades and OHLC, no key); tops up "
                          "and resumes")
    down.add_argument("--pairs", nargs="+", required=True, metavar="PAIR", help="e.g. BTC/USD SOL/USD")
    down.add_argument("--timeframe", default="1h", help="candle size (default 1h)")
    down.add_argument("--from", dest="start", type=date_type,
                      help="first day, YYYY-MM-DD (needed for a pair the folder has no data for yet)")
    down.add_argument("--data-dir", type=Path, default=DEFAULT_FOLDER, help="folder to fill (default ./data)")
    down.add_argument("--api-url", help="another Kraken REST URL (e.g. the emulator's http://127.0.0.1:PORT)")
    down.add_argument("--rate-limit-ms", type=float,
                      help="minimum milliseconds between calls (default: ccxt's Kraken limit, 1000)")
    down.add_argument("--no-progress", action="store_true", help="no progress bar")
    down.set_defaults(handler=cmd_download, pairs_type=pairs_type)

    imp = sub.add_parser("import", help="read Kraken's archive files (OHLCVT or trades CSV, zipped or not)")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE", help="Kraken archive .zip or .csv files")
    imp.add_argument("--data-dir", type=Path, default=DEFAULT_FOLDER, help="folder to fill (default ./data)")
    imp.add_argument("--timeframe", default="1h", help="candle size for trade files (default 1h)")
    imp.add_argument("--pairs", nargs="+", metavar="PAIR", help="only these pairs (default: every file)")
    imp.set_defaults(handler=cmd_import, pairs_type=pairs_type)

    lst = sub.add_parser("list", help="show pairs, timeframes, first and last bar and gaps of a data folder")
    lst.add_argument("--data-dir", type=Path, default=DEFAULT_FOLDER, help="folder to list (default ./data)")
    lst.set_defaults(handler=cmd_list)


def _rules(names: list[str]):
    from kraken_global.universe import catalog

    universe = catalog()
    return [universe.resolve(name) for name in names]


def cmd_download(args: argparse.Namespace) -> int:
    import pandas as pd
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    from kraken_global.data.download import DownloadSettings, download, exchange_now, public_client
    from kraken_global.errors import ConfigError
    from kraken_global.feeds import parse_timeframe

    pairs = _rules(args.pairs_type(args.pairs))
    timeframe = parse_timeframe(args.timeframe)  # every argument is checked before the first call to Kraken
    if args.rate_limit_ms is not None and not 0 <= args.rate_limit_ms <= 60_000:  # also refuses nan
        raise ConfigError(f"--rate-limit-ms {args.rate_limit_ms} is not a delay: use 0 .. 60000 milliseconds")
    settings = DownloadSettings(api_url=args.api_url, rate_limit_ms=args.rate_limit_ms)
    console = Console()
    client = public_client(settings)
    now = exchange_now(client, settings)  # the progress bars end at the exchange's present
    start = pd.Timestamp(args.start) if args.start else None
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[at]}"),
                  console=console, disable=args.no_progress) as progress:
        tasks: dict[str, int] = {}

        def on_progress(symbol: str, at: pd.Timestamp) -> None:
            if symbol not in tasks:
                first = start if start is not None and start < at else at
                tasks[symbol] = progress.add_task(symbol, total=max((now - first).total_seconds(), 1.0),
                                                  at="", origin=first)
            task = progress.tasks[tasks[symbol]]
            progress.update(tasks[symbol], completed=(at - task.fields["origin"]).total_seconds(), at=str(at))

        reports = download(pairs, timeframe, args.data_dir, settings, start, on_progress,
                           client)
    for r in reports:
        console.print(f"{r.symbol}: {r.candles_written} candles written to {r.file} "
                      f"({r.trade_pages} trade pages{', resumed' if r.resumed else ''}); last bar {r.last_bar}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from kraken_global.data.archive import import_files
    from kraken_global.feeds import parse_timeframe

    altnames = {r.altname for r in _rules(args.pairs_type(args.pairs))} if args.pairs else None
    done = import_files(args.files, args.data_dir, parse_timeframe(args.timeframe), altnames,
                        on_file=lambda where: print(f"importing {where}"))
    for item in done:
        print(f"{item.source} -> {item.file}: {item.rows} candles, {item.first_bar} .. {item.last_bar}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from kraken_global.data.inventory import summarize_folder

    rows = summarize_folder(args.data_dir)
    table = Table(title=f"{args.data_dir}: {len(rows)} data files")
    for column in ("file", "pair", "format", "timeframe", "rows", "first bar", "last bar", "missing bars",
                   "largest gap"):
        table.add_column(column, justify="right" if column in ("rows", "missing bars", "largest gap") else "left")
    for r in rows:
        table.add_row(r.file, r.pair, r.format, r.timeframe, str(r.rows), r.first_bar, r.last_bar,
                      str(r.missing_bars), str(r.largest_gap_bars))
        if r.problem:
            table.add_row("", f"[red]{r.problem}[/red]", "", "", "", "", "", "", "")
    Console(width=200).print(table)
    return 0
