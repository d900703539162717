"""The ``kraken-global`` command line: one module per family of commands, assembled here.

Errors of the project's own family are printed as one clear message without a traceback. Exit codes: 0 success;
1 a refusal or failure of the registry (gates failed, integrity error, nothing to roll back); 2 bad input
(config, data, arguments, a missing confirmation word, a path outside the namespace, a busy port, an unreachable
exchange); 130 a paper/live session left at once by a second stop signal (the first one ends it cleanly, exit 0).
Each handler imports what it needs when it runs, so that ``--help`` and the registry commands start at once.
"""

from __future__ import annotations

import argparse
import sys

from kraken_global import __version__
from kraken_global.cli.backtest import add_backtest_command
from kraken_global.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    KG,
    HelpFormatter,
    Parser,
    cluster_options,
    os_error_line,
    parse_date,
    registry_options,
    split_pairs,
)
from kraken_global.cli.registry import add_registry_commands
from kraken_global.cli.replay import add_replay_commands
from kraken_global.cli.report import add_report_command
from kraken_global.cli.research import add_research_commands
from kraken_global.cli.sessions import add_session_commands
from kraken_global.data.cli import add_data_command
from kraken_global.errors import ConfigError, KrakenGlobalError
from kraken_global.registry.errors import (
    ConfirmationRequired,
    PathEscapeError,
    RegistryError,
    UnknownCandidateError,
)

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="kraken-global",
                    description="Backtest, paper-trade and trade Kraken spot crypto on backtrader, with a model "
                                "registry whose gates\nguard what trades, and a local Kraken emulator to try it all.",
                    formatter_class=HelpFormatter,
                    epilog=f"example:\n  {KG} backtest --config configs/quick.yaml\n"
                           "each command's --help has its options, defaults and an example")
    parser.add_argument("--version", action="version", version=f"kraken-global {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    registry, computing = registry_options(), cluster_options()
    add_backtest_command(commands)
    add_registry_commands(commands, registry, computing)
    add_research_commands(commands, registry, computing)
    add_session_commands(commands)
    add_replay_commands(commands, registry)
    add_report_command(commands)
    add_data_command(commands, parse_date, split_pairs)  # kraken_global/data/cli.py
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): nothing more can be shown; no traceback, and no second one at exit
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except (ConfigError, ConfirmationRequired, PathEscapeError, UnknownCandidateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KrakenGlobalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED if isinstance(exc, RegistryError) else EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # the file system refused a path the user gave (under a file, in /proc, a full disk)
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT

