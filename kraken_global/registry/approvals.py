"""What the audit chain says about approvals and the policy, read from its entries (pure functions, no files).

An approval is a ``promote`` entry still on the stack that promotions and rollbacks build. It is backed by the
candidate's last gates run before it: on exactly the promoted SHA256, passed, under the policy in force at that
moment. What an approval made under an earlier policy means: the policy changed after the promotion. The approval
stands: the model stays loadable (backtests, paper, live, the champion in the gates) and every output flags it
("approved under an earlier policy"), until it is replaced by a promotion (which needs gates passed under the
current policy) or a rollback. Changing the policy therefore never locks the registry: tightening it cannot stop
live from starting, block other candidates' gates, or block a rollback. A later gates run of the approved model
that failed (under a stricter config or policy) is flagged the same way; it does not revoke the approval.
"""

from __future__ import annotations

from typing import Any

from kraken_global.registry.errors import RegistryError

STATE_CHANGES = ("promote", "rollback")


def approval_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``promote`` entries on the approval stack (the last one is the approved model)."""
    stack: list[dict[str, Any]] = []
    for entry in entries:
        if entry["action"] == "promote":
            stack.append(entry)
        elif entry["action"] == "rollback":
            stack = stack[:-1]
    return stack


def replay_approvals(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stack of approvals the chain's promotions and rollbacks build (the last one is the approved model)."""
    return [{"id": e["details"]["id"], "sha256": e["details"]["sha256"]} for e in approval_entries(entries)]


def last_entry(entries: list[dict[str, Any]], action: str, candidate_id: str | None = None,
               before_seq: int | None = None, key: str = "id") -> dict[str, Any] | None:
    """The chain's last ``action`` entry (whose ``details[key]`` is ``candidate_id`` when given: a candidate's
    ``id``, or a trading configuration's ``fingerprint``; before ``before_seq`` when given)."""
    for entry in reversed(entries):
        if before_seq is not None and entry["seq"] >= before_seq:
            continue
        if entry["action"] == action and (candidate_id is None or entry["details"].get(key) == candidate_id):
            return entry
    return None


def policy_at(entries: list[dict[str, Any]], seq: int) -> str | None:
    """The SHA256 of the policy in force just before entry ``seq``."""
    recorded = last_entry(entries, "policy", before_seq=seq)
    return recorded["details"]["policy_sha256"] if recorded is not None else None


def backing_validation(entries: list[dict[str, Any]], promotion: dict[str, Any]) -> dict[str, Any]:
    """The gates run a promotion rests on: the candidate's last one before it, on exactly the promoted SHA256,
    passed, under the policy in force then; raises when the chain holds none."""
    candidate, sha = promotion["details"]["id"], promotion["details"]["sha256"]
    recorded = last_entry(entries, "validation", candidate, before_seq=promotion["seq"])
    details = (recorded or {}).get("details", {})
    if recorded is None or details.get("sha256") != sha or not details.get("passed") or \
            details.get("policy_sha256") != policy_at(entries, promotion["seq"]):
        raise RegistryError(f"the approval of {candidate} (audit line {promotion['seq']}) rests on no passing gates "
                            f"run of SHA256 {sha} under the policy then in force")
    return recorded


def approval_status(entries: list[dict[str, Any]], promotion: dict[str, Any], current_policy: str) -> dict[str, Any]:
    """An approval as outputs show it: which policy it was made under, and flags a person must see."""
    candidate = promotion["details"]["id"]
    made_under = policy_at(entries, promotion["seq"])
    flags = []
    if made_under != current_policy:
        flags.append(f"approved under an earlier policy ({str(made_under)[:12]}; current {current_policy[:12]}): "
                     "it trades until replaced; gate and promote a candidate under the current policy, or roll back")
    later = last_entry(entries, "validation", candidate)
    if later is not None and later["seq"] > promotion["seq"] and not later["details"].get("passed"):
        flags.append(f"its latest gates run (audit line {later['seq']}) failed; the approval stands until replaced")
    return {"id": candidate, "sha256": promotion["details"]["sha256"], "promoted_at_entry": promotion["seq"],
            "approved_under_policy": made_under, "under_current_policy": made_under == current_policy,
            "flags": flags}


def policy_changes(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every policy the namespace had, in order: its hash, the one before, what changed, who and when."""
    return [{"entry": e["seq"], "time": e["time"], "policy_sha256": e["details"]["policy_sha256"],
             "previous_sha256": e["details"].get("previous_sha256"),
             "changes": e["details"].get("changes") or e["details"].get("reason"), "actor": e["details"].get("actor")}
            for e in entries if e["action"] == "policy"]


def approval_line(record: dict[str, Any]) -> str:
    """One line for a trading output: namespace, policy hash, and every flag of the approval traded."""
    line = f"namespace {record['namespace']}, policy {record['policy_sha256'][:12]}"
    if not record["policy_looser_than_defaults"]:
        line += " (the safe defaults or stricter)"
    return "; ".join([line, *(f"WARNING: {flag}" for flag in record["flags"])])
