"""The model registry's commands: ``train``, ``gates``, ``promote``, ``rollback``, ``models``, ``audit`` and
``policy``. Every change goes through the registry's keyed audit chain; these handlers only ask and print."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
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
    print_json,
    registry_config,
)
from kraken_global.cli.configurations import (
    add_configs_command,
    add_configuration_options,
    cmd_gate_configuration,
    cmd_promote_configuration,
    cmd_rollback_configuration,
)
from kraken_global.errors import ConfigError, KrakenGlobalError
from kraken_global.registry.errors import RegistryError
from kraken_global.reports import registry_tables


def add_registry_commands(commands, registry_options, cluster_options) -> None:
    registry = (registry_options,)
    computing = (registry_options, cluster_options)
    train = command(commands, "train", "train a candidate model", f"{KG} train --config configs/gates-demo.yaml",
                    computing, "Walk-forward folds on the config's data; the candidate waits for its gates.")
    train.set_defaults(handler=cmd_train)
    gates = command(commands, "gates", "run the gates on a candidate or a trading configuration: JSON report; "
                                       "exit 0 pass, 1 fail, 2 error",
                    f"{KG} gates CANDIDATE --config configs/gates-demo.yaml", computing,
                    "A candidate model: integrity, schema, out-of-sample performance under the namespace's policy.\n"
                    "--trading-config (no CANDIDATE): the config's trading configuration, over the grid it was "
                    "chosen from\n(--set): walk-forward Sharpe, PBO, 2x costs, the SMA baseline and buy-and-hold; "
                    f"e.g.\n  {KG} gates --trading-config --config configs/quick.yaml --set "
                    "strategy.params.fast=20,40,60,80 --set strategy.params.slow=150,200,300,500")
    gates.add_argument("candidate", nargs="?", help="the candidate id (train prints it; models list shows them)")
    gates.add_argument("--output", type=Path, help="also write the JSON report here (default: stdout only)")
    add_configuration_options(gates)
    gates.set_defaults(handler=cmd_gates)
    promote = command(commands, "promote", "approve a candidate (or with --trading-config the config's trading "
                                           "configuration) that passed",
                      f"{KG} promote CANDIDATE --config configs/gates-demo.yaml --confirm yes-promote", registry)
    promote.add_argument("candidate", nargs="?", help="the candidate id (it must have passed its gates)")
    promote.add_argument("--confirm", help="must be exactly yes-promote (no default: without it nothing changes)")
    promote.add_argument("--trading-config", action="store_true",
                         help="approve the config's trading configuration (it must have passed gates --trading-config)")
    promote.set_defaults(handler=cmd_promote)
    rollback = command(commands, "rollback", "return to the previous model (or with --trading-config withdraw the "
                                             "config's approval)",
                       f"{KG} rollback --config configs/gates-demo.yaml --confirm yes-rollback", registry)
    rollback.add_argument("--confirm", help="must be exactly yes-rollback (no default: without it nothing changes)")
    rollback.add_argument("--trading-config", action="store_true",
                          help="withdraw the approval of the config's trading configuration")
    rollback.set_defaults(handler=cmd_rollback)
    add_configs_command(commands, registry_options)
    models = command(commands, "models", "list, show or trace models",
                     f"{KG} models list --config configs/gates-demo.yaml", registry,
                     "list: every candidate, its training window, AUC and gates verdict (the approved one marked);\n"
                     "show CANDIDATE: its manifest and gates; history: promotions and rollbacks from the audit log.\n"
                     "Tables for people; --json for machines.")
    models.add_argument("action", choices=["list", "show", "history"], help="what to show")
    models.add_argument("candidate", nargs="?", help="for show: the candidate id")
    models.add_argument("--json", action="store_true", help="print JSON instead of tables")
    models.set_defaults(handler=cmd_models)
    policy = command(commands, "policy", "show or change the namespace's gate policy (audited)",
                     f"{KG} policy set min_sharpe=0.8 --confirm yes-change-policy", registry)
    policy.add_argument("action", choices=["show", "set"], help="show the policy, or set KEY=VALUE pairs")
    policy.add_argument("assignments", nargs="*", metavar="KEY=VALUE", help="for set: e.g. min_sharpe=0.8")
    policy.add_argument("--confirm", help="for set: must be exactly yes-change-policy (no default: without it "
                                          "nothing changes)")
    policy.add_argument("--json", action="store_true", help="for show: print JSON instead of a table")
    policy.set_defaults(handler=cmd_policy)
    audit = command(commands, "audit", "verify the audit log's keyed hash chain and the files it vouches for",
                    f"{KG} audit verify --config configs/gates-demo.yaml", registry)
    audit.add_argument("action", choices=["verify"], help="the only action: verify")
    audit.add_argument("--json", action="store_true", help="print JSON instead of a table")
    audit.set_defaults(handler=cmd_audit)


def cmd_train(args: argparse.Namespace) -> int:
    from kraken_global.gating.candidates import train_candidate

    config = registry_config(args)
    registry = open_registry(args)
    from rich.console import Console

    from kraken_global.runners.progress import progress_bar

    with cluster(config) as client, progress_bar(Console(stderr=True), config.run.progress, "fits") as on_done:
        candidate = train_candidate(config, registry, client, on_done)
    manifest = registry.manifest(candidate)
    print(f"candidate {candidate}")
    print(f"  sha256 {manifest['sha256']}")
    print(f"  trained on {manifest['training_window']['first_bar']} .. {manifest['training_window']['train_end']}")
    print(f"  walk-forward mean AUC {manifest['metrics']['mean_auc']:.3f}")
    print(f"next: .venv/bin/kraken-global gates {candidate}{config_hint(args)}")
    return EXIT_OK


def cmd_gates(args: argparse.Namespace) -> int:
    import json

    if args.trading_config:
        return cmd_gate_configuration(args)
    if args.candidate is None:
        raise ConfigError("gates needs a CANDIDATE (models list shows them), or --trading-config to gate the config's "
                          "trading configuration")
    if args.assignments or args.out or args.start or args.end:
        raise ConfigError("--set, --out, --from and --to belong to gates --trading-config; a candidate is gated "
                          "on the config's out-of-sample windows")

    from kraken_global.gating.gates import run_gates
    from kraken_global.gating.summary import summarize

    if args.output is not None:  # a report left from an earlier run must not pass for this one's
        if args.output.is_dir():
            raise ConfigError(f"--output {args.output} is a folder; name a file for the JSON report")
        check_folder(args.output.absolute().parent, "--output's folder")  # not found out after the gates ran
        args.output.unlink(missing_ok=True)
    config = registry_config(args)
    registry = open_registry(args)
    if not registry.paths.candidate_dir(args.candidate).is_dir():
        registry.manifest(args.candidate)  # an unknown candidate is refused before a Dask cluster starts
    with cluster(config) as client:
        report = run_gates(config, args.candidate, registry, client)
    if args.output:
        args.output.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    print(summarize(report), file=sys.stderr)
    print_json(report)
    if report["passed"]:  # on stderr: stdout stays one JSON document
        print(f"next: .venv/bin/kraken-global promote {args.candidate}{config_hint(args)} --confirm yes-promote",
              file=sys.stderr)
    return EXIT_OK if report["passed"] else EXIT_FAILED


def cmd_promote(args: argparse.Namespace) -> int:
    if args.trading_config:
        return cmd_promote_configuration(args)
    if args.candidate is None:
        raise ConfigError("promote needs a CANDIDATE (models list shows them), or --trading-config")
    with _alerting(args):
        state = open_registry(args).promote(args.candidate, args.confirm)
    print(f"approved {state['approved']['id']} (sha256 {state['approved']['sha256']})")
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    if args.trading_config:
        return cmd_rollback_configuration(args)
    with _alerting(args):
        state = open_registry(args).rollback(args.confirm)
    print(f"rolled back: approved is now {state['approved']['id']} (sha256 {state['approved']['sha256']})")
    return EXIT_OK


@contextmanager
def _alerting(args: argparse.Namespace):
    """The config's alerts for the block (``model_approved``, ``model_rolled_back``), sent before the command ends."""
    from kraken_global.alerts.setup import install_alerts, remove_alerts

    alerts = install_alerts(registry_config(args).alerts)
    try:
        yield
    finally:
        remove_alerts(alerts)


def cmd_models(args: argparse.Namespace) -> int:
    from kraken_global.registry.verification import last_entry, registry_history, replay_approvals

    config = registry_config(args)
    if args.action == "list" and not (config.ml.artifacts / config.ml.namespace).is_dir():
        return _no_registry_here(args, config)
    registry = open_registry(args)
    entries = registry.recovered_entries()  # an interrupted change is finished first, never shown as tampering
    state = registry.state()
    approvals = replay_approvals(entries)  # what the keyed chain approved and gated, not state.json or the reports
    approved = approvals[-1]["id"] if approvals else None
    history = registry_history(registry)
    flags = history["approvals"][-1]["flags"] if history["approvals"] else []
    if approvals != state["approvals"]:
        print(f"warning: {registry.state_file} does not match the audit log; showing the audit log's approvals "
              "(nothing loads until state.json is restored)", file=sys.stderr)
    if args.action == "list":
        rows = []
        for candidate in registry.candidates():
            audited = last_entry(entries, "validation", candidate)
            try:
                manifest = registry.manifest(candidate)
            except KrakenGlobalError as exc:  # one damaged candidate must not hide the others
                print(f"warning: {candidate}: {exc}", file=sys.stderr)
                manifest = {}
            window = manifest.get("training_window") or {}
            rows.append({"id": candidate, "approved": candidate == approved, "created": manifest.get("created"),
                         "trained_from": window.get("first_bar"), "trained_to": window.get("train_end"),
                         "auc": (manifest.get("metrics") or {}).get("mean_auc"),
                         "flags": flags if candidate == approved else [],
                         "gates": "not gated" if audited is None else
                         ("passed" if audited["details"].get("passed") else "failed")})
        if args.json:
            print_json(rows)
        elif not rows:
            print(f"no candidates in {registry.root} yet: train one with {KG} train{config_hint(args)}")
            _mention_other_registries(registry.root)
        else:
            _print_tables(registry_tables.models_list_table(rows, str(registry.root)))
        return EXIT_OK
    if args.action == "show":
        if not args.candidate:
            _refuse("models show needs a candidate id (models list shows them)")
        manifest = registry.manifest(args.candidate)
        try:
            registry.audited_manifest(args.candidate, entries)
            problem = None
        except RegistryError as exc:
            problem = str(exc)
        shown = {"manifest": manifest, "manifest_problem": problem, "validation": registry.validation(args.candidate),
                 "approved": args.candidate == approved}
        print_json(shown) if args.json else _print_tables(*registry_tables.model_show_tables(shown))
        return EXIT_OK
    shown = {"approved": state["approved"], "approvals": state["approvals"], "audit": history["decisions"],
             "approval_flags": flags, "approvals_audited": history["approvals"],
             "policy_changes": history["policy_changes"], "namespace": history["namespace"],
             "identity": history["identity"]}
    print_json(shown) if args.json else _print_tables(*registry_tables.history_tables(shown))
    return EXIT_OK


def _no_registry_here(args: argparse.Namespace, config) -> int:
    """``models list`` where the config's namespace has no registry: say where it looked, and what exists nearby
    (nothing is created by looking)."""
    folder = config.ml.artifacts / config.ml.namespace
    source = f"--config {args.config}" if args.config else "the built-in defaults"
    if args.json:
        print_json([])
        return EXIT_OK
    print(f"no registry at {folder}/ (ml.artifacts {config.ml.artifacts}, ml.namespace {config.ml.namespace}, from "
          f"{source}); a registry is made by {KG} train")
    _mention_other_registries(folder)
    return EXIT_OK


def _mention_other_registries(looked_at: Path) -> None:
    from kraken_global.registry.discovery import find_registries

    others = [r for r in find_registries(Path.cwd())
              if (Path.cwd() / r.artifacts / r.namespace).resolve() != Path(looked_at).resolve()]
    for found in others:
        print(f"  found: {found.artifacts}/{found.namespace}/ with {found.candidates} candidate(s): "
              f"{KG} models list {found.options()}")


def _print_tables(*tables) -> None:
    from rich.console import Console

    console = Console()
    for table in tables:
        console.print(table)


def cmd_audit(args: argparse.Namespace) -> int:
    from kraken_global.registry.verification import registry_history

    registry = open_registry(args)
    count, problems = registry.verify()
    actions = [e.get("action") for e in registry.audit.entries()] if not problems else []
    result = {"log": str(registry.audit.path), "entries": count, "key_folder": str(registry.keys.folder),
              "intact": not problems, "problems": problems, "actions": actions}
    if not problems:  # what the intact chain says of the namespace: a copy, its policy changes, flags
        history = registry_history(registry)
        result.update(namespace=history["namespace"], identity=history["identity"],
                      policy_changes=history["policy_changes"],
                      approval_flags=history["approvals"][-1]["flags"] if history["approvals"] else [])
    if args.json:
        print_json(result)
    else:
        _print_tables(registry_tables.audit_table(result))
        for line in registry_tables.chain_notes(result):
            print(line)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return EXIT_FAILED if problems else EXIT_OK


def cmd_policy(args: argparse.Namespace) -> int:
    registry = open_registry(args)
    if args.action == "show":
        if args.assignments or args.confirm:
            _refuse("policy show takes no KEY=VALUE or --confirm")
        policy = registry.policy()
        shown = {"namespace": registry.paths.namespace, "policy": policy.model_dump(mode="json"),
                 "policy_sha256": policy.sha256()}
        print_json(shown) if args.json else _print_tables(registry_tables.policy_table(shown))
        return EXIT_OK
    changes = {}
    for assignment in args.assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip() or not value.strip():
            _refuse(f"{assignment!r} is not KEY=VALUE (e.g. min_sharpe=0.8)")
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


def _refuse(message: str) -> None:
    raise ConfigError(message)
