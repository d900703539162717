"""``kraken-global report``: one self-contained HTML page of any results (a backtest, a session, a sweep, a gates
report), the same page a running session's dashboard serves."""

from __future__ import annotations

import argparse
from pathlib import Path

from kraken_global.cli.common import EXIT_OK, KG, command


def add_report_command(commands) -> None:
    report = command(commands, "report",
                     "write one self-contained HTML page of a backtest, session, sweep or gates run",
                     f"{KG} report results/quick",
                     description="The page a session's dashboard serves, with its data, styles and script inlined: "
                                 "it opens from disk,\noffline, with nothing fetched. A running session's folder "
                                 "gives its state at that moment.")
    report.add_argument("results", type=Path, metavar="RESULTS",
                        help="a results folder (metrics.json, status.json or sweep.csv) or a gates report file")
    report.add_argument("--out", type=Path, help="the HTML file (default: RESULTS/report.html, or RESULTS.html "
                                                 "beside a gates report file)")
    report.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from kraken_global.errors import ConfigError
    from kraken_global.sessions.dashboard.folder import folder_document
    from kraken_global.sessions.dashboard.page import report_html
    from kraken_global.sessions.status import write_atomically

    document = folder_document(args.results)
    out = args.out or (args.results.with_suffix(".html") if args.results.is_file() else args.results / "report.html")
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder: name the HTML file")
    write_atomically(out, report_html(document))
    print(f"{document['kind']} report written to {out}")
    return EXIT_OK
