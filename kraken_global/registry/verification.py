"""What the keyed audit chain says, and a check of every stored file against it (``kraken-global audit verify``).

The chain is the record; ``state.json``, ``policy.json``, the candidates' manifests, the model files and the gates
reports are files anyone with write access to the artifacts could change. :func:`verify_registry` finishes an
interrupted change first (so one is never reported as tampering), then lists each file that no longer matches
its entry; :func:`registry_history` is what the chain says in order: approvals (flagged when made under an earlier
policy), policy changes, and what the namespace is (the original, moved, or a copy of another).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kraken_global.registry.approvals import (
    approval_entries,
    approval_status,
    backing_validation,
    last_entry,
    policy_changes,
    replay_approvals,
)
from kraken_global.registry.configurations import ConfigurationApprovals
from kraken_global.registry.errors import RegistryError
from kraken_global.registry.paths import file_json

if TYPE_CHECKING:
    from kraken_global.registry.store import RegistryStore

__all__ = ["last_entry", "registry_history", "replay_approvals", "verify_registry"]


def verify_registry(registry: RegistryStore) -> tuple[int, list[str]]:
    """The audit chain's length (raises if it is broken), and every stored file that no longer matches it:
    gates reports, the approved pointer and model file, the manifests, the policy copy, the trading
    configurations' gates reports and approvals."""
    entries = registry.recovered_entries()
    problems = []
    for candidate in sorted({e["details"].get("id") for e in entries if e["action"] == "validation"}):
        try:
            registry.audited_report(candidate, entries)
        except (RegistryError, ValueError) as exc:
            problems.append(str(exc))
    for stray in sorted(p.stem for p in registry.paths.path("validations").glob("*.json")):
        if last_entry(entries, "validation", stray) is None:
            problems.append(f"gates report validations/{stray}.json has no audited gates run")
    for candidate in registry.candidates():
        try:
            registry.audited_manifest(candidate, entries)
        except (RegistryError, ValueError) as exc:
            problems.append(str(exc))
    try:
        registry.checked_state(entries)
    except (RegistryError, ValueError) as exc:
        problems.append(str(exc))
    problems += _approved_model_problems(registry, entries)
    problems += ConfigurationApprovals(registry).problems(entries)
    recorded = last_entry(entries, "policy")
    copy = registry.policy_file
    if recorded is not None and (copy.exists() or copy.is_symlink()) and (
            copy.is_symlink() or copy.read_bytes() != file_json(recorded["details"]["policy"])):
        problems.append(f"{copy} differs from the policy in the audit log (line {recorded['seq']}); the audit log's "
                        "policy applies")
    return len(entries), problems


def _approved_model_problems(registry: RegistryStore, entries: list[dict[str, Any]]) -> list[str]:
    """The approved model's file must still have the promoted SHA256, and its promotion its backing gates run."""
    stack = approval_entries(entries)
    if not stack:
        return []
    approved = stack[-1]["details"]
    try:
        backing_validation(entries, stack[-1])
        actual = registry.file_sha256(approved["id"])
    except (RegistryError, OSError, ValueError) as exc:
        return [str(exc)]
    if actual != approved["sha256"]:
        return [f"the approved model file of {approved['id']} has SHA256 {actual}, not the promoted "
                f"{approved['sha256']}: it was changed; nothing loads until it is restored"]
    return []


def registry_history(registry: RegistryStore) -> dict[str, Any]:
    """What the chain says, in order: the namespace and what it is, every approval on the stack with its flags,
    every promotion and rollback, and every policy change."""
    entries = registry.audit.verify_entries()
    current = last_entry(entries, "policy")
    current_sha = current["details"]["policy_sha256"] if current is not None else None
    return {"namespace": registry.paths.namespace, "identity": registry.audit.identity(),
            "policy_sha256": current_sha,
            "approvals": [approval_status(entries, e, current_sha) for e in approval_entries(entries)],
            "decisions": [e for e in entries if e["action"] in ("promote", "rollback")],
            "policy_changes": policy_changes(entries)}
