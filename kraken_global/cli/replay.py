"""Replaying a finished session: ``parity`` (through the backtest, bar by bar) and ``shadow`` (a candidate model
beside the session's own)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kraken_global.cli.common import EXIT_FAILED, EXIT_OK, KG, command, open_registry
from kraken_global.errors import ConfigError


def add_replay_commands(commands, registry_options) -> None:
    parity = command(commands, "parity", "replay a paper/live session through the backtest and show, bar by bar, "
                     "where they differ: exit 0 identical decisions, 1 differ",
                     f"{KG} parity results/paper-20190601T000000Z")
    parity.add_argument("session_dir", type=Path, metavar="SESSION_DIR", help="the session's results folder")
    parity.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parity.add_argument("--size-tolerance", type=float, default=1e-9, metavar="R",
                        help="relative order size difference still counted as identical")
    parity.set_defaults(handler=cmd_parity)
    shadow = command(commands, "shadow", "a candidate replayed beside the approved model on a session's live bars "
                     "(never sent)", f"{KG} shadow report --candidate CANDIDATE", (registry_options,),
                     "`paper|live --shadow CANDIDATE` replays the candidate on the session's live bars when the "
                     "session ends;\n`shadow run` does it for a finished session; `shadow report` compares the "
                     "shadow with the session's model.")
    shadow.add_argument("action", choices=["run", "report"])
    shadow.add_argument("session", nargs="?", type=Path, help="run: the session's results folder")
    shadow.add_argument("--candidate", help="the candidate to shadow (run: required; report: only this one)")
    shadow.set_defaults(handler=cmd_shadow)


def cmd_shadow(args: argparse.Namespace) -> int:
    from kraken_global.replay.shadow import run_shadow, shadow_report

    if args.action == "run":
        if args.session is None or not args.candidate:
            _refuse("shadow run needs the session's folder and --candidate ID")
        chosen = args.config or args.artifacts or args.namespace  # else the session's own registry
        summary = run_shadow(args.session, args.candidate, open_registry(args) if chosen else None)
        print(f"shadow of {args.candidate} on {summary['session']}: {summary['days']:.1f} days counted "
              f"({summary['days_note']}); {summary['differing_orders']} orders differ from the session's model")
        return EXIT_OK
    _, text = shadow_report(open_registry(args), args.candidate)
    print(text)
    return EXIT_OK


def cmd_parity(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from kraken_global.replay.parity import read_session, replay_session
    from kraken_global.replay.parity_compare import compare
    from kraken_global.replay.parity_report import print_parity

    if not 0 <= args.size_tolerance < 1:  # also refuses nan and inf, which would call any two sizes identical
        _refuse(f"--size-tolerance must be a relative difference from 0 up to (not including) 1, not "
                f"{args.size_tolerance}")
    record = read_session(args.session_dir)
    report = compare(record, replay_session(record), args.size_tolerance)
    path = args.session_dir / "parity.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_parity(report, Console(soft_wrap=True), path)
    return EXIT_OK if report["identical"] else EXIT_FAILED


def _refuse(message: str) -> None:
    raise ConfigError(message)
