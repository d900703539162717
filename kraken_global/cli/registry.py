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
from kraken_global.errors import ConfigError


def add_registry_commands(commands, registry_options, cluster_options) -> None:
    registry = (registry_options,)
    computing = (registry_options, cluster_options)
    train = command(commands, "train", "train a candidate model", f"{KG} train --config configs/gates-demo.yaml",
                    computing, "Walk-forward folds on the config's data; the candidate waits for its gates.")
    train.set_defaults(handler=cmd_train)
    gates = command(commands, "gates", "run the gates on a candidate: JSON report; exit 0 pass, 1 fail, 2 error",
                    f"{KG} gates CANDIDATE --config configs/gates-demo.yaml", computing)
    gates.add_argument("candidate")
    gates.add_argument("--output", type=Path, help="also write the JSON report here")
    gates.set_defaults(handler=cmd_gates)
    promote = command(commands, "promote", "approve a candidate that passed",
                      f"{KG} promote CANDIDATE --config configs/gates-demo.yaml --confirm yes-promote", registry)
    promote.add_argument("candidate")
    promote.add_argument("--confirm", help="must be exactly yes-promote")
    promote.set_defaults(handler=cmd_promote)
    rollback = command(commands, "rollback", "return to the previous model",
                       f"{KG} rollback --config configs/gates-demo.yaml --confirm yes-rollback", registry)
    rollback.add_argument("--confirm", help="must be exactly yes-rollback")
    rollback.set_defaults(handler=cmd_rollback)
    models = command(commands, "models", "list, show or trace models",
                     f"{KG} models list --config configs/gates-demo.yaml", registry)
    models.add_argument("action", choices=["list", "show", "history"])
    models.add_argument("candidate", nargs="?")
    models.set_defaults(handler=cmd_models)
    policy = command(commands, "policy", "show or change the namespace's gate policy (audited)",
                     f"{KG} policy set min_sharpe=0.8 --confirm yes-change-policy", registry)
    policy.add_argument("action", choices=["show", "set"])
    policy.add_argument("assignments", nargs="*", metavar="KEY=VALUE", help="for set: e.g. min_sharpe=0.8")
    policy.add_argument("--confirm", help="for set: must be exactly yes-change-policy")
    policy.set_defaults(handler=cmd_policy)
    audit = command(commands, "audit", "verify the audit log's keyed hash chain and the files it vouches for",
                    f"{KG} audit verify --config configs/gates-demo.yaml", registry)
    audit.add_argument("action", choices=["verify"])
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
    with _alerting(args):
        state = open_registry(args).promote(args.candidate, args.confirm)
    print(f"approved {state['approved']['id']} (sha256 {state['approved']['sha256']})")
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
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
    from kraken_global.registry.verification import last_entry, replay_approvals

    registry = open_registry(args)
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
            _refuse("models show needs a candidate id")
        print_json({"manifest": registry.manifest(args.candidate), "validation": registry.validation(args.candidate),
                     "approved": args.candidate == approved})
        return EXIT_OK
    print_json({"approved": state["approved"], "approvals": state["approvals"],
                 "audit": [e for e in registry.audit.entries() if e["action"] in ("promote", "rollback")]})
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    registry = open_registry(args)
    count, problems = registry.verify()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return EXIT_FAILED
    print(f"audit log {registry.audit.path}: {count} entries, keyed hash chain intact and anchored "
          f"(key folder {registry.keys.folder}); reports, approvals and policy match it")
    return EXIT_OK


def cmd_policy(args: argparse.Namespace) -> int:
    registry = open_registry(args)
    if args.action == "show":
        if args.assignments or args.confirm:
            _refuse("policy show takes no KEY=VALUE or --confirm")
        policy = registry.policy()
        print_json({"namespace": registry.paths.namespace, "policy": policy.model_dump(mode="json"),
                     "policy_sha256": policy.sha256()})
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
