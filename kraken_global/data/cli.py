"""The ``kraken-global data download|import|list`` subcommands (parsers and handlers, kept out of cli.py).

Imported by every ``kraken-global`` call to build the parser: heavy imports (pandas, ccxt) stay in the handlers."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_FOLDER = Path("data")


def add_data_command(commands, date_type, pairs_type, command) -> None:
    """Register ``data`` and its three subcommands on the top-level ``commands`` subparsers; ``command`` is the
    CLI's helper that gives a subcommand its description, defaults and example."""
    kg = ".venv/bin/kraken-global"
    data = command(commands, "data", "download, import or list Kraken history in a data folder",
                   f"{kg} data download --pairs SOL/USD ADA/USD --timeframe 1h --data-dir data\n"
                   f"  {kg} data list --data-dir data",
                   description="The folder holds Kraken's OHLCVT layout (<ALTNAME>_<minutes>.csv), which every command "
                               "reads (backtest --data-dir,\ndata.directory). `download` tops up from the last stored "
                               "bar and resumes after an interruption; `import`\nreads Kraken's archive files; `list` "
                               "shows pairs, timeframes, first and last bar and gaps. Each action's\n--help has its "
                               "options.")
    sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    down = command(sub, "download", "fetch candles from Kraken's public Trades and OHLC endpoints (no key); tops up "
                   "and resumes", f"{kg} data download --pairs SOL/USD ADA/USD --from 2023-01-01 --data-dir data",
                   description="Older history comes from Trades (1000 trades a call, about one call a second), the "
                               "latest 720 candles from\nOHLC. The cursor is saved after every page: run the same "
                               "command again to resume or, later, to top up.")
    down.add_argument("--pairs", nargs="+", required=True, metavar="PAIR", help="e.g. BTC/USD SOL/USD")
    down.add_argument("--timeframe", default="1h", help="candle size")
    down.add_argument("--from", dest="start", type=date_type,
                      help="first day, YYYY-MM-DD, for a pair the folder has no data for yet (default: top up from "
                           "the last stored bar)")
    down.add_argument("--data-dir", type=Path, default=DEFAULT_FOLDER, help="folder to fill")
    down.add_argument("--api-url", help="another Kraken REST URL, e.g. the emulator's http://127.0.0.1:PORT "
                                        "(default: Kraken itself)")
    down.add_argument("--rate-limit-ms", type=float,
                      help="minimum milliseconds between calls (default: ccxt's Kraken limit, 1000)")
    down.add_argument("--no-progress", action="store_true", help="no progress bar")
    down.set_defaults(handler=cmd_download, pairs_type=pairs_type)

    imp = command(sub, "import", "read Kraken's archive files (OHLCVT or trades CSV, zipped or not) into the folder",
                  f"{kg} data import kraken_global/bundled/data/XBTUSD_60.csv.gz --data-dir data",
                  description="OHLCVT files are merged into the folder's file of the same name, trade files streamed "
                              "into candles of\n--timeframe. A row already stored is kept when it is equal; a row "
                              "that differs is an error naming both\nvalues, unless --duplicates keep-last (the new "
                              "row replaces it, and the count is reported).")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE",
                     help="Kraken archive .zip files, or .csv (or .csv.gz) files taken out of them")
    imp.add_argument("--data-dir", type=Path, default=DEFAULT_FOLDER, help="folder to fill")
    imp.add_argument("--timeframe", default="1h", help="candle size for trade files")
    imp.add_argument("--pairs", nargs="+", metavar="PAIR", help="only these pairs (default: every file)")
    imp.add_argument("--duplicates", choices=["error", "keep-last"], default="error",
                     help="a row whose time is already stored with other values: an error, or keep the new one")
    imp.set_defaults(handler=cmd_import, pairs_type=pairs_type)

    lst = command(sub, "list", "show pairs, timeframes, first and last bar and gaps of a data folder",
                  f"{kg} data list --data-dir kraken_global/bundled/data")
    lst.add_argument("--data-dir", type=Path, default=DEFAULT_FOLDER, help="folder to list")
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
    now = exchange_now(client, settings, pairs[0].pair_id)  # the progress bars end at the market's present
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
                        on_file=lambda where: print(f"importing {where}"), duplicates=args.duplicates)
    for item in done:
        replaced = f"; {item.replaced} stored rows replaced (--duplicates keep-last)" if item.replaced else ""
        print(f"{item.source} -> {item.file}: {item.rows} candles, {item.first_bar} .. {item.last_bar}{replaced}")
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
