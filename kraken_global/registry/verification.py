"""What the keyed audit chain says, and a check of every stored file against it (``kraken-global audit verify``).

The chain is the record; ``state.json``, ``policy.json`` and the gates reports are files anyone with write access
to the artifacts could change. :func:`verify_registry` lists each one that no longer matches its entry.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from kraken_global.registry.errors import RegistryError

if TYPE_CHECKING:
    from kraken_global.registry.store import ModelRegistry


def file_json(data: Any) -> bytes:
    """The bytes the registry writes for a JSON document (reports, state, policy copy)."""
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def replay_approvals(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stack of approvals the chain's promotions and rollbacks build (the last one is the approved model)."""
    approvals: list[dict[str, Any]] = []
    for entry in entries:
        if entry["action"] == "promote":
            approvals.append({"id": entry["details"]["id"], "sha256": entry["details"]["sha256"]})
        elif entry["action"] == "rollback":
            approvals = approvals[:-1]
    return approvals


def last_entry(entries: list[dict[str, Any]], action: str, candidate_id: str | None = None) -> dict[str, Any] | None:
    """The chain's last ``action`` entry (for ``candidate_id`` when given), or None."""
    for entry in reversed(entries):
        if entry["action"] == action and (candidate_id is None or entry["details"].get("id") == candidate_id):
            return entry
    return None


def verify_registry(registry: ModelRegistry) -> tuple[int, list[str]]:
    """The audit chain's length (raises if it is broken), and every stored file that no longer matches it:
    gates reports, the approved pointer, the policy copy."""
    entries = registry.audit.verify_entries()
    problems = []
    for candidate in sorted({e["details"].get("id") for e in entries if e["action"] == "validation"}):
        try:
            registry.audited_report(candidate, entries)
        except (RegistryError, ValueError) as exc:
            problems.append(str(exc))
    for stray in sorted(p.stem for p in registry.paths.path("validations").glob("*.json")):
        if last_entry(entries, "validation", stray) is None:
            problems.append(f"gates report validations/{stray}.json has no audited gates run")
    try:
        registry.checked_state(entries)
    except (RegistryError, ValueError) as exc:
        problems.append(str(exc))
    recorded = last_entry(entries, "policy")
    copy = registry.policy_file
    if recorded is not None and (copy.exists() or copy.is_symlink()) and (
            copy.is_symlink() or copy.read_bytes() != file_json(recorded["details"]["policy"])):
        problems.append(f"{copy} differs from the policy in the audit log (line {recorded['seq']}); the audit log's "
                        "policy applies")
    return len(entries), problems
