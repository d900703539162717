"""Trading configurations approved like models: ``gates --trading-config``, ``promote --trading-config``,
``rollback --trading-config`` and ``configs list|show``. The registry does the work; these only ask and print."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kraken_global.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    KG,
    check_folder,
    cluster,
    command,
    config_hint,
    open_registry,
    parse_date,
    print_json,
    registry_config,
)
from kraken_global.errors import ConfigError

CONFIG_GATES_OUT = Path("results") / "config-gates"


def add_configuration_options(gates: argparse.ArgumentParser) -> None:
    """The options ``gates --trading-config`` adds to ``gates``."""
    gates.add_argument("--trading-config", action="store_true",
                       help="gate the config's trading configuration (no model) instead of a candidate: a "
                            "walk-forward over the --set grid, PBO, 2x costs, SMA baseline and buy-and-hold")
    gates.add_argument("--set", dest="assignments", action="append", metavar="KEY=V1,V2",
                       help="with --trading-config: the grid the configuration was chosen from, e.g. "
                            "strategy.params.fast=20,40,60 (repeatable; 10 points at least for PBO; only keys the "
                            "configuration decides, no costs) (default: none, required with --trading-config)")
    gates.add_argument("--from", dest="start", type=parse_date,
                       help="with --trading-config: first day of the walk-forward (default: data.start)")
    gates.add_argument("--to", dest="end", type=parse_date,
                       help="with --trading-config: last day, inclusive (default: data.end)")
    gates.add_argument("--out", type=Path, help="with --trading-config: folder of the walk-forward (default: "
                                                "results/config-gates/FINGERPRINT12; resumable)")


def add_configs_command(commands, registry_options) -> None:
    configs = command(commands, "configs", "list trading configurations, or show whether the config's is approved",
                      f"{KG} configs show --config configs/quick.yaml", (registry_options,),
                      "list: every configuration gated in the namespace, its last verdict and whether it is "
                      "approved;\nshow: the config's fingerprint, what it binds, and its approval (exit 0 approved, "
                      "1 not).")
    configs.add_argument("action", choices=["list", "show"], help="what to show")
    configs.add_argument("--json", action="store_true", help="print JSON instead of lines")
    configs.set_defaults(handler=cmd_configs)


def _fingerprint(args: argparse.Namespace) -> tuple[object, str]:
    from kraken_global.config.fingerprint import configuration_fingerprint
    from kraken_global.gating.configuration import gated_config

    config = registry_config(args)
    return config, configuration_fingerprint(gated_config(config))


def cmd_gate_configuration(args: argparse.Namespace) -> int:
    from kraken_global.gating.configuration import gate_configuration, gated_config, grid_with_configuration
    from kraken_global.reports.summary import json_ready
    from kraken_global.runners.grid import parse_grid
    from kraken_global.runners.progress import progress_bar

    if args.candidate is not None:
        raise ConfigError(f"gates --trading-config gates the config's trading configuration; drop the candidate "
                          f"{args.candidate!r} (or drop --trading-config to gate the candidate)")
    if not args.assignments:
        raise ConfigError("gates --trading-config needs the grid the configuration was chosen from: --set "
                          "KEY=V1,V2,... (10 points at least, e.g. --set strategy.params.fast=20,40,60,80 --set "
                          "strategy.params.slow=150,200,300)")
    config, fingerprint = _fingerprint(args)
    period = {"data.start": args.start, "data.end": args.end}
    config = config.with_overrides({k: v for k, v in period.items() if v is not None})
    grid = parse_grid(args.assignments)
    grid_with_configuration(gated_config(config), grid)  # a grid that is no choice is refused before any cluster
    out = args.out or CONFIG_GATES_OUT / fingerprint[:12]
    check_folder(out, "--out")
    if args.output is not None:
        check_folder(args.output.absolute().parent, "--output's folder")
        args.output.unlink(missing_ok=True)
    registry = open_registry(args)
    from rich.console import Console

    with cluster(config) as client, progress_bar(Console(stderr=True), config.run.progress, "tasks",
                                                 "config gates") as on_done:
        report = gate_configuration(config, grid, out, registry, client, on_done)
    plain = json_ready(report)
    if args.output:
        import json

        args.output.write_text(json.dumps(plain, indent=2, sort_keys=True) + "\n")
    for gate in report["gates"]:
        print(f"{'PASS' if gate['passed'] else 'FAIL'} {gate['name']}: {gate['detail']}", file=sys.stderr)
    verdict = "passed" if report["passed"] else "failed"
    print(f"trading configuration {fingerprint[:12]} {verdict} its gates (namespace {registry.paths.namespace}; "
          f"walk-forward in {out})", file=sys.stderr)
    print_json(plain)
    if report["passed"]:
        print(f"next: .venv/bin/kraken-global promote --trading-config{config_hint(args)} --confirm yes-promote",
              file=sys.stderr)
    return EXIT_OK if report["passed"] else EXIT_FAILED


def cmd_promote_configuration(args: argparse.Namespace) -> int:
    from kraken_global.registry.configurations import ConfigurationApprovals

    if args.candidate is not None:
        raise ConfigError(f"promote --trading-config approves the config's trading configuration; drop the "
                          f"candidate {args.candidate!r}")
    _, fingerprint = _fingerprint(args)
    entry = ConfigurationApprovals(open_registry(args)).promote(fingerprint, args.confirm)
    print(f"approved trading configuration {fingerprint} (audit entry {entry['seq']}); `live` with this config "
          "now starts")
    return EXIT_OK


def cmd_rollback_configuration(args: argparse.Namespace) -> int:
    from kraken_global.registry.configurations import ConfigurationApprovals

    _, fingerprint = _fingerprint(args)
    entry = ConfigurationApprovals(open_registry(args)).rollback(fingerprint, args.confirm)
    print(f"withdrew the approval of trading configuration {fingerprint} (audit entry {entry['seq']}); `live` "
          "refuses it again")
    return EXIT_OK


def cmd_configs(args: argparse.Namespace) -> int:
    from kraken_global.config.fingerprint import configuration_setup
    from kraken_global.gating.configuration import gated_config
    from kraken_global.registry.configurations import ConfigurationApprovals

    approvals = ConfigurationApprovals(open_registry(args))
    if args.action == "list":
        rows = approvals.listing()
        if args.json:
            print_json(rows)
        elif not rows:
            print(f"no trading configuration gated in namespace {approvals.registry.paths.namespace}")
        for row in [] if args.json else rows:
            verdict = {True: "passed", False: "failed"}[row["last_gates_passed"]]
            print(f"{row['fingerprint'][:12]}  last gates {verdict}  {'APPROVED' if row['approved'] else '-'}"
                  + (f"  ({'; '.join(row['flags'])})" if row["flags"] else ""))
        return EXIT_OK
    config, fingerprint = _fingerprint(args)
    status = approvals.status(fingerprint)
    if args.json:
        print_json({**status, "setup": configuration_setup(gated_config(config))})
    else:
        state = "APPROVED" if status["approved"] else ("gated, not approved" if status["gated"] else "never gated")
        print(f"trading configuration {fingerprint} in namespace {status['namespace']}: {state}"
              + (f" ({'; '.join(status['flags'])})" if status["flags"] else ""))
    return EXIT_OK if status["approved"] else EXIT_FAILED
