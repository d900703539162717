"""The ``kraken-global`` command line.

Errors of the project's own family are printed as one clear message without a traceback. Exit codes: 0 success;
1 a refusal or failure of the registry (gates failed, integrity error, nothing to roll back); 2 bad input
(config, data, arguments, a missing confirmation word, a path outside the namespace, a busy port, an unreachable
exchange); 130 a paper/live session left at once by a second stop signal (the first one ends it cleanly, exit 0).
Each handler imports what it needs when it runs, so that ``--help`` and the registry commands start at once.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from kraken_global import __version__
from kraken_global.data.cli import add_data_command
from kraken_global.errors import ConfigError, KrakenGlobalError
from kraken_global.registry.errors import (
    ConfirmationRequired,
    PathEscapeError,
    RegistryError,
    UnknownCandidateError,
)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def _pairs(values: list[str]) -> list[str]:
    return [p.strip() for value in values for p in value.split(",") if p.strip()]


def _port(text: str, lowest: int = 1) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not lowest <= port <= 65_535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use {lowest}..65535")
    return port


def _listen_port(text: str) -> int:
    """A port to listen on; 0 lets the system choose a free one."""
    return _port(text, lowest=0)


def _speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= speed < 1e9:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text} is not a speed: use a number from 0 (a paused clock) up, e.g. "
                                         "60 or 3600")
    return speed


class _Parser(argparse.ArgumentParser):
    """Argument mistakes as one line (exit 2) naming the command's --help, not a usage block."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written; an option's default after its help unless the help names it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _command(commands, name: str, summary: str, example: str, parents=(), description: str = ""):
    """A subcommand whose ``--help`` has a description, each option's default and an example."""
    return commands.add_parser(name, parents=list(parents), help=summary, formatter_class=_HelpFormatter,
                               description=f"{summary[0].upper()}{summary[1:]}." + (f"\n\n{description}"
                                                                                    if description else ""),
                               epilog=f"example:\n  {example}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kraken-global",
                     description="Backtest, paper-trade and trade Kraken spot crypto on backtrader, with a model "
                                 "registry whose gates\nguard what trades, and a local Kraken emulator to try it all.",
                                     formatter_class=_HelpFormatter,
                                     epilog="example:\n  .venv/bin/kraken-global backtest --config configs/quick.yaml\n"
                                            "each command's --help has its options, defaults and an example")
    parser.add_argument("--version", action="version", version=f"kraken-global {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    kg = ".venv/bin/kraken-global"

    bt_parser = _command(commands, "backtest", "run a backtest on bundled or local Kraken data",
                         f"{kg} backtest --config configs/quick.yaml --out results/quick")
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
    bt_parser.add_argument("--model", choices=["none", "approved"], help="filter entries with the approved model")
    bt_parser.add_argument("--format", dest="data_format", choices=["auto", "cryptodatadownload", "ohlcvt", "trades"],
                           help="layout of the data files (default: detected from the first line)")
    bt_parser.add_argument("--reference", help="pair whose closes drive the regimes (regimes.reference)")
    bt_parser.add_argument("--benchmark", help="pair held in the buy & hold column (universe.benchmark)")
    bt_parser.set_defaults(handler=cmd_backtest)

    registry_options = argparse.ArgumentParser(add_help=False)
    registry_options.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    registry_options.add_argument("--artifacts", type=Path, help="registry base folder (default: ml.artifacts)")
    registry_options.add_argument("--namespace", help="system namespace inside it (default: ml.namespace)")
    cluster_options = argparse.ArgumentParser(add_help=False)
    cluster_options.add_argument("--scheduler", help="serial, local (a Dask LocalCluster) or tcp://host:8786 (an "
                                                     "existing Dask scheduler) (default: run.scheduler, local)")
    cluster_options.add_argument("--workers", type=int, help="LocalCluster workers (default: one per core)")
    registry = (registry_options,)
    computing = (registry_options, cluster_options)

    train = _command(commands, "train", "train a candidate model", f"{kg} train --config configs/gates-demo.yaml",
                     computing, "Walk-forward folds on the config's data; the candidate waits for its gates.")
    train.set_defaults(handler=cmd_train)
    gates = _command(commands, "gates", "run the gates on a candidate: JSON report; exit 0 pass, 1 fail, 2 error",
                     f"{kg} gates CANDIDATE --config configs/gates-demo.yaml", computing)
    gates.add_argument("candidate")
    gates.add_argument("--output", type=Path, help="also write the JSON report here")
    gates.set_defaults(handler=cmd_gates)
    promote = _command(commands, "promote", "approve a candidate that passed",
                       f"{kg} promote CANDIDATE --config configs/gates-demo.yaml --confirm yes-promote", registry)
    promote.add_argument("candidate")
    promote.add_argument("--confirm", help="must be exactly yes-promote")
    promote.set_defaults(handler=cmd_promote)
    rollback = _command(commands, "rollback", "return to the previous model",
                        f"{kg} rollback --config configs/gates-demo.yaml --confirm yes-rollback", registry)
    rollback.add_argument("--confirm", help="must be exactly yes-rollback")
    rollback.set_defaults(handler=cmd_rollback)
    models = _command(commands, "models", "list, show or trace models",
                      f"{kg} models list --config configs/gates-demo.yaml", registry)
    models.add_argument("action", choices=["list", "show", "history"])
    models.add_argument("candidate", nargs="?")
    models.set_defaults(handler=cmd_models)
    policy = _command(commands, "policy", "show or change the namespace's gate policy (audited)",
                      f"{kg} policy set min_sharpe=0.8 --confirm yes-change-policy", registry)
    policy.add_argument("action", choices=["show", "set"])
    policy.add_argument("assignments", nargs="*", metavar="KEY=VALUE", help="for set: e.g. min_sharpe=0.8")
    policy.add_argument("--confirm", help="for set: must be exactly yes-change-policy")
    policy.set_defaults(handler=cmd_policy)
    audit = _command(commands, "audit", "verify the audit log's keyed hash chain and the files it vouches for",
                     f"{kg} audit verify --config configs/gates-demo.yaml", registry)
    audit.add_argument("action", choices=["verify"])
    audit.set_defaults(handler=cmd_audit)
    sweep = _command(commands, "sweep", "one backtest per combination of parameter values, on Dask",
                     f"{kg} sweep --config configs/quick.yaml --set strategy.params.fast=10,20", computing)
    sweep.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=V1,V2",
                       help="a config key and the values to try, e.g. strategy.params.fast=20,40,60 (repeatable)")
    sweep.add_argument("--out", type=Path, help="folder for sweep.csv (default: run.out of the config)")
    sweep.set_defaults(handler=cmd_sweep)
    _session_commands(commands, kg)
    status = _command(commands, "status", "show a paper or live session's status (running or finished)",
                      f"{kg} status results/paper-20190601T000000Z",
                      description="Reads SESSION_DIR/status.json, which the session rewrites at each bar: positions, "
                                  "open orders, P&L,\nlast bar, model and the exchange link.")
    status.add_argument("session", nargs="?", type=Path, metavar="SESSION_DIR",
                        help="the session's results folder (default: the latest under --results)")
    status.add_argument("--results", type=Path, default=Path("results"), help="where sessions are looked for")
    status.add_argument("--json", action="store_true", help="print the status file as JSON")
    status.set_defaults(handler=cmd_status)
    parity = _command(commands, "parity", "replay a paper/live session through the backtest and show, bar by bar, "
                      "where they differ: exit 0 identical decisions, 1 differ",
                      f"{kg} parity results/paper-20190601T000000Z")
    parity.add_argument("session_dir", type=Path, metavar="SESSION_DIR", help="the session's results folder")
    parity.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parity.add_argument("--size-tolerance", type=float, default=1e-9, metavar="R",
                        help="relative order size difference still counted as identical")
    parity.set_defaults(handler=cmd_parity)
    shadow = _command(commands, "shadow", "a candidate replayed beside the approved model on a session's live bars "
                      "(never sent)", f"{kg} shadow report --candidate CANDIDATE", registry,
                      "`paper|live --shadow CANDIDATE` replays the candidate on the session's live bars when the "
                      "session ends;\n`shadow run` does it for a finished session; `shadow report` compares the "
                      "shadow with the session's model.")
    shadow.add_argument("action", choices=["run", "report"])
    shadow.add_argument("session", nargs="?", type=Path, help="run: the session's results folder")
    shadow.add_argument("--candidate", help="the candidate to shadow (run: required; report: only this one)")
    shadow.set_defaults(handler=cmd_shadow)
    emulator = _command(commands, "emulator", "run the local Kraken REST emulator on 127.0.0.1",
                        f"{kg} emulator --port 8799 --speed 3600")
    emulator.add_argument("--port", type=_listen_port, default=8799, help="TCP port on 127.0.0.1 (0: any free one)")
    emulator.add_argument("--speed", type=_speed, default=60.0, help="market seconds per wall second (0: paused)")
    emulator.add_argument("--start", type=_date, default="2019-06-01", help="replay start day (UTC)")
    emulator.add_argument("--usd", type=float, default=10_000.0, help="starting USD balance")
    emulator.add_argument("--credentials", type=Path, default=Path("emulator-credentials.json"),
                          help="file (mode 0600) with the API key and secret to use; created when missing")
    from kraken_global.emulator.options import add_emulator_options

    add_emulator_options(emulator)
    emulator.set_defaults(handler=cmd_emulator)
    add_data_command(commands, _date, _pairs)  # kraken_global/data/cli.py
    return parser


def _session_commands(commands, kg: str) -> None:
    """``paper`` and ``live``: the same options but ``--model`` (paper) and ``--credentials``/``--state`` (live)."""
    stop = ("Runs until --max-bars or a stop: Ctrl-C or SIGTERM finishes the current bar, writes every result "
            "file and\nexits 0 (a second signal leaves at once). Results go to results/<mode>-<UTC time>/ "
            "(live.results) unless\n--out; watch with `kraken-global status`.")
    for mode, text, example in (
            ("paper", "paper-trade: live Kraken candles, the simulated Kraken broker",
             f"{kg} paper --api-url http://127.0.0.1:8799 --no-rate-limit --poll-seconds 1 --max-bars 200"),
            ("live", "trade for real: live candles, orders on Kraken (approved model required)",
             f"{kg} live --api-url http://127.0.0.1:8799 --credentials emulator-credentials.json "
             "--no-rate-limit --poll-seconds 1")):
        session = _command(commands, mode, text, example, description=stop)
        session.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
        session.add_argument("--api-url", help="Kraken REST base URL (default: live.api_url, else Kraken itself); "
                                               "e.g. http://127.0.0.1:8799 for the emulator")
        session.add_argument("--pairs", nargs="+", metavar="PAIR", help="pairs to trade")
        session.add_argument("--out", type=Path, help="results folder (default: <live.results>/<mode>-<UTC time>)")
        session.add_argument("--max-bars", type=int, help="end after this many live bars (default: run until stopped)")
        session.add_argument("--no-retrain", action="store_true", help="no retraining in the downtime")
        session.add_argument("--no-rate-limit", action="store_true", help="no client throttle (the emulator only)")
        session.add_argument("--poll-seconds", type=float, help="seconds between candle polls (default: "
                                                                "live.poll_seconds)")
        session.add_argument("--quiet", action="store_true", help="terminal: warnings and the summary only (the "
                                                                  "log file keeps everything)")
        session.add_argument("--status-port", type=_port, help="serve status.json read-only on 127.0.0.1:PORT "
                                                               "(default: live.status_port, off)")
        session.add_argument("--shadow", metavar="CANDIDATE",
                             help="replay this candidate beside the session's model on its live bars when the "
                                  "session ends (recorded in the registry's shadow area, never sent)")
        if mode == "live":
            session.add_argument("--credentials", type=Path,
                                 help="JSON file (mode 0600) with key and secret (default: KRAKEN_API_KEY/SECRET)")
            session.add_argument("--state", type=Path, help="SQLite trading state (default: live.state)")
        else:
            session.add_argument("--model", choices=["none", "approved"], help="filter entries with the approved model")
        session.set_defaults(handler=cmd_session, mode=mode)


def cmd_emulator(args: argparse.Namespace) -> int:
    import time

    from kraken_global.emulator.options import emulator_options, load_or_create_credentials
    from kraken_global.emulator.server import EmulatorServer, bundled_market, new_credentials

    market = bundled_market()
    options = emulator_options(args, market)
    key, secret = load_or_create_credentials(args.credentials, new_credentials)
    server = EmulatorServer(key, secret, options.start, options.speed, {"ZUSD": options.usd}, options.port,
                            market=market, permissions=options.permissions, asset_pairs=options.asset_pairs,
                            fees=options.fees, fills=options.fills)
    with server:
        print(f"Kraken emulator on {server.base_url} (market time {server.clock.now()}, x{options.speed}); "
              f"credentials in {args.credentials}; Ctrl-C stops it", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return EXIT_OK


def _registry_config(args: argparse.Namespace):
    from kraken_global.config import load_config

    config = load_config(args.config)
    overrides = {"ml.artifacts": str(args.artifacts) if args.artifacts else None, "ml.namespace": args.namespace,
                 "run.scheduler": getattr(args, "scheduler", None), "run.workers": getattr(args, "workers", None)}
    return config.with_overrides({k: v for k, v in overrides.items() if v is not None})


def _cluster(config):
    """The Dask client of ``run.scheduler`` (None for serial); progress and cluster logs stay off stdout."""
    from kraken_global.distributed import dask_client

    return dask_client(config.run.scheduler, config.run.workers)


def _registry(args: argparse.Namespace):
    from kraken_global.registry import ModelRegistry  # not gating: quick commands must not import sklearn

    config = _registry_config(args)
    return ModelRegistry(config.ml.artifacts, config.ml.namespace)


def _print_json(data) -> None:
    import json

    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def cmd_train(args: argparse.Namespace) -> int:
    from kraken_global.gating.candidates import train_candidate

    config = _registry_config(args)
    registry = _registry(args)
    from rich.console import Console

    from kraken_global.runners.progress import progress_bar

    with _cluster(config) as client, progress_bar(Console(stderr=True), config.run.progress, "fits") as on_done:
        candidate = train_candidate(config, registry, client, on_done)
    manifest = registry.manifest(candidate)
    print(f"candidate {candidate}")
    print(f"  sha256 {manifest['sha256']}")
    print(f"  trained on {manifest['training_window']['first_bar']} .. {manifest['training_window']['train_end']}")
    print(f"  walk-forward mean AUC {manifest['metrics']['mean_auc']:.3f}")
    print(f"next: .venv/bin/kraken-global gates {candidate}{_config_hint(args)}")
    return EXIT_OK


def _config_hint(args: argparse.Namespace) -> str:
    """The options a ``next:`` hint must repeat to reach the same registry."""
    parts = [f" --config {args.config}" if args.config else "",
             f" --artifacts {args.artifacts}" if getattr(args, "artifacts", None) else "",
             f" --namespace {args.namespace}" if getattr(args, "namespace", None) else ""]
    return "".join(parts)


def cmd_gates(args: argparse.Namespace) -> int:
    import json

    from kraken_global.gating.gates import run_gates
    from kraken_global.gating.summary import summarize

    if args.output is not None:  # a report left from an earlier run must not pass for this one's
        if args.output.is_dir():
            raise ConfigError(f"--output {args.output} is a folder; name a file for the JSON report")
        args.output.unlink(missing_ok=True)
    config = _registry_config(args)
    registry = _registry(args)
    if not registry.paths.candidate_dir(args.candidate).is_dir():
        registry.manifest(args.candidate)  # an unknown candidate is refused before a Dask cluster starts
    with _cluster(config) as client:
        report = run_gates(config, args.candidate, registry, client)
    if args.output:
        args.output.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    print(summarize(report), file=sys.stderr)
    _print_json(report)
    if report["passed"]:  # on stderr: stdout stays one JSON document
        print(f"next: .venv/bin/kraken-global promote {args.candidate}{_config_hint(args)} --confirm yes-promote",
              file=sys.stderr)
    return EXIT_OK if report["passed"] else EXIT_FAILED


def cmd_promote(args: argparse.Namespace) -> int:
    state = _registry(args).promote(args.candidate, args.confirm)
    print(f"approved {state['approved']['id']} (sha256 {state['approved']['sha256']})")
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    state = _registry(args).rollback(args.confirm)
    print(f"rolled back: approved is now {state['approved']['id']} (sha256 {state['approved']['sha256']})")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from kraken_global.registry.verification import last_entry, replay_approvals

    registry = _registry(args)
    state = registry.state()
    entries = registry.audit.verify_entries()
    approvals = replay_approvals(entries)  # what the keyed chain approved and gated, not state.json or the reports
    approved = approvals[-1]["id"] if approvals else None
    if approvals != state["approvals"]:
        print(f"warning: {registry.state_file} does not match the audit log; showing the audit log's approvals "
              "(nothing loads until state.json is restored)", file=sys.stderr)
    if args.action == "list":
        for candidate in registry.candidates():
            audited = last_entry(entries, "validation", candidate)
            gates = "not gated" if audited is None else ("passed" if audited["details"].get("passed") else "failed")
            print(f"{candidate}  gates: {gates}{'  APPROVED' if candidate == approved else ''}")
        return EXIT_OK
    if args.action == "show":
        if not args.candidate:
            raise_config("models show needs a candidate id")
        _print_json({"manifest": registry.manifest(args.candidate), "validation": registry.validation(args.candidate),
                     "approved": args.candidate == approved})
        return EXIT_OK
    _print_json({"approved": state["approved"], "approvals": state["approvals"],
                 "audit": [e for e in registry.audit.entries() if e["action"] in ("promote", "rollback")]})
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    registry = _registry(args)
    count, problems = registry.verify()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return EXIT_FAILED
    print(f"audit log {registry.audit.path}: {count} entries, keyed hash chain intact and anchored "
          f"(key folder {registry.keys.folder}); reports, approvals and policy match it")
    return EXIT_OK


def cmd_policy(args: argparse.Namespace) -> int:
    registry = _registry(args)
    if args.action == "show":
        if args.assignments or args.confirm:
            raise_config("policy show takes no KEY=VALUE or --confirm")
        policy = registry.policy()
        _print_json({"namespace": registry.paths.namespace, "policy": policy.model_dump(mode="json"),
                     "policy_sha256": policy.sha256()})
        return EXIT_OK
    changes = {}
    for assignment in args.assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise_config(f"{assignment!r} is not KEY=VALUE (e.g. min_sharpe=0.8)")
        changes[key.strip()] = value.strip()
    from kraken_global.gating.policy import POLICY_WORD

    before = registry.policy().sha256() if args.confirm == POLICY_WORD else None
    policy = registry.set_policy(changes, args.confirm)
    if policy.sha256() == before:
        print(f"the policy already has those values; nothing was changed (policy_sha256 {policy.sha256()})")
        return EXIT_OK
    print(f"policy changed ({', '.join(f'{k}={v}' for k, v in changes.items())}); policy_sha256 {policy.sha256()}; "
          "recorded in the audit log. Reports made under the previous policy can no longer be promoted.")
    return EXIT_OK


def _check_folder(path: Path, option: str) -> None:
    """Refuse a results folder that is an existing file before any work is done."""
    if path.exists() and not path.is_dir():
        raise_config(f"{option} {path} is an existing file: name a folder")


def raise_config(message: str) -> None:
    from kraken_global.errors import ConfigError

    raise ConfigError(message)


def cmd_sweep(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kraken_global.runners.progress import progress_bar
    from kraken_global.runners.sweep import parse_grid, run_sweep

    config = _registry_config(args)
    grid = parse_grid(args.assignments)
    _check_folder(args.out or config.run.out, "--out" if args.out else "run.out")
    console = Console(stderr=True)
    with _cluster(config) as client, progress_bar(console, config.run.progress, "backtests") as on_done:
        table = run_sweep(config, grid, client, on_done)
    out = args.out or config.run.out
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "sweep.csv", index=False)
    print(table.to_string(index=False))
    print(f"sweep of {len(table)} backtests written to {out / 'sweep.csv'}")
    return EXIT_OK


def cmd_session(args: argparse.Namespace) -> int:
    from kraken_global.config import load_config
    from kraken_global.runners.operate import run_session

    config = load_config(args.config)
    overrides = {
        "live.api_url": args.api_url,
        "universe.pairs": _pairs(args.pairs) if args.pairs else None,
        "live.max_bars": args.max_bars,
        "live.retrain": False if args.no_retrain else None,
        "live.rate_limit": False if args.no_rate_limit else None,
        "live.poll_seconds": args.poll_seconds,
        "live.credentials": str(args.credentials) if getattr(args, "credentials", None) else None,
        "live.state": str(args.state) if getattr(args, "state", None) else None,
        "ml.use_model": getattr(args, "model", None),
    }
    config = config.with_overrides({k: v for k, v in overrides.items() if v is not None})
    if args.shadow:  # the candidate must exist and load before the session starts, not when it ends
        from kraken_global.registry import ModelRegistry

        ModelRegistry(config.ml.artifacts, config.ml.namespace).load_candidate(args.shadow)
    return run_session(args, config)


def cmd_status(args: argparse.Namespace) -> int:
    from kraken_global.runners.operate import show_status
    from kraken_global.runners.status import latest_session, read_status

    if args.json:
        folder = args.session if args.session is not None else latest_session(args.results)
        _print_json(read_status(folder))
        return EXIT_OK
    show_status(args.session, args.results)
    return EXIT_OK


def cmd_shadow(args: argparse.Namespace) -> int:
    from kraken_global.runners.shadow import run_shadow, shadow_report

    if args.action == "run":
        if args.session is None or not args.candidate:
            raise_config("shadow run needs the session's folder and --candidate ID")
        chosen = args.config or args.artifacts or args.namespace  # else the session's own registry
        summary = run_shadow(args.session, args.candidate, _registry(args) if chosen else None)
        print(f"shadow of {args.candidate} on {summary['session']}: {summary['days']:.1f} days counted "
              f"({summary['days_note']}); {summary['differing_orders']} orders differ from the session's model")
        return EXIT_OK
    _, text = shadow_report(_registry(args), args.candidate)
    print(text)
    return EXIT_OK


def cmd_parity(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from kraken_global.runners.parity import read_session, replay_session
    from kraken_global.runners.parity_compare import compare
    from kraken_global.runners.parity_report import print_parity

    if not args.size_tolerance >= 0:
        raise_config(f"--size-tolerance must be 0 or more, not {args.size_tolerance}")
    record = read_session(args.session_dir)
    report = compare(record, replay_session(record), args.size_tolerance)
    path = args.session_dir / "parity.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_parity(report, Console(soft_wrap=True), path)
    return EXIT_OK if report["identical"] else EXIT_FAILED


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
        "ml.use_model": args.model,
        "data.format": args.data_format,
        "regimes.reference": args.reference,
        "universe.benchmark": args.benchmark,
    }
    config = config.with_overrides({k: v for k, v in overrides.items() if v is not None})
    _check_folder(config.run.out, "--out" if args.out else "run.out")
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


if __name__ == "__main__":
    sys.exit(main())
