"""The registry's commands for people: tables for ``models list|show|history``, ``policy show`` and ``audit
verify``. The handlers (:mod:`kraken_global.cli.registry`) decide what to show; this module only lays it out, from
the same plain dicts their ``--json`` prints. rich is imported when a table is drawn (these commands must answer
at once)."""

from __future__ import annotations

from collections import Counter
from typing import Any


def _tables():
    from kraken_global.reports import tables

    return tables


def models_list_table(rows: list[dict[str, Any]], where: str):
    """One row per candidate: id, when it was made, its training window, walk-forward AUC, gates, approved."""
    t = _tables()
    body = [[r["id"] + (" *" if r["approved"] else "") + (" (flagged: models history)" if r.get("flags") else ""),
             (r.get("created") or "")[:16].replace("T", " "),
             f"{(r.get('trained_from') or '-')[:10]}..{(r.get('trained_to') or '-')[:10]}", t.number(r.get("auc"), 3),
             r["gates"]] for r in rows]
    return t.table(f"Candidates in {where} (* approved)", ("candidate", "created", "trained on", "AUC", "gates"),
                   body, left=3)


def model_show_tables(shown: dict[str, Any]) -> list:
    """A candidate's manifest facts and its gates, one line per gate."""
    t = _tables()
    manifest, report = shown["manifest"], shown.get("validation") or {}
    window = manifest.get("training_window") or {}
    point = manifest.get("operating_point") or {}
    facts = [("candidate", manifest.get("id")), ("approved", "yes" if shown.get("approved") else "no"),
             ("sha256", manifest.get("sha256")),
             ("manifest", shown.get("manifest_problem") or "matches the hash the audit chain holds"),
             ("created", manifest.get("created")),
             ("model", manifest.get("model_type")),
             ("trained on", f"{window.get('first_bar', '-')} .. {window.get('train_end', '-')} "
                            f"({', '.join(window.get('pairs') or []) or '-'}; "
                            f"embargo {window.get('embargo_bars', '-')} bars)"),
             ("operating point", ", ".join(f"{k} {v}" for k, v in sorted(point.items())) or "-"),
             ("walk-forward AUC", t.number((manifest.get("metrics") or {}).get("mean_auc"), 3)),
             ("gates", "not gated" if not report else ("passed" if report.get("passed") else "FAILED"))]
    out = [t.key_values(f"Model {manifest.get('id')}", facts)]
    gates = report.get("gates") or []
    if gates:
        out.append(t.table("Gates", ("gate", "verdict", "detail"),
                           [[g.get("name"), "pass" if g.get("passed") else "FAIL", g.get("detail")] for g in gates],
                           left=3))
    return out


def history_tables(history: dict[str, Any]) -> list:
    """Promotions and rollbacks from the audit log, oldest first; then the policy changes; then notes on the
    namespace (a copy) and the approved model's flags."""
    t = _tables()
    rows = [[(e.get("time") or "")[:19], e.get("action"), (e.get("details") or {}).get("id"),
             (e.get("details") or {}).get("actor")] for e in history["audit"]]
    approved = (history.get("approved") or {}).get("id")
    out = [t.table(f"Approvals and rollbacks (approved now: {approved or 'none'})",
                   ("time (UTC)", "action", "model", "by"), rows, left=4)]
    changes = history.get("policy_changes") or []
    if changes:
        out.append(t.table("Policy changes", ("entry", "time (UTC)", "policy", "changes"),
                           [[c["entry"], (c.get("time") or "")[:19], c["policy_sha256"][:12], t.text(c["changes"])]
                            for c in changes], left=4))
    out += chain_notes(history)
    return out


def chain_notes(facts: dict[str, Any]) -> list[str]:
    """Lines on what the chain says beyond its tables: a copied namespace, each policy change (``audit verify``),
    and the approved model's flags."""
    lines = []
    identity = facts.get("identity") or {}
    if identity.get("copy_of"):
        lines.append(f"namespace {facts.get('namespace')} is a copy of {identity['copy_of']} (made at audit entry "
                     f"{identity.get('copied_at_entry')}); the two are anchored apart")
    if "approvals_audited" not in facts:  # audit verify lists the policy changes as lines; history as a table
        for change in facts.get("policy_changes") or []:
            was = f"was {change['previous_sha256'][:12]}" if change.get("previous_sha256") else "the first"
            lines.append(f"policy change at entry {change['entry']} ({change['time']}): "
                         f"{change['policy_sha256'][:12]} ({was}): {change['changes']}")
    approved = (facts.get("approved") or {}).get("id") if "approvals_audited" in facts else None
    for flag in facts.get("approval_flags") or []:
        lines.append(f"approved model{' ' + approved if approved else ''}: {flag}")
    return lines


def policy_table(shown: dict[str, Any]):
    t = _tables()
    facts = [("namespace", shown["namespace"]), *sorted(shown["policy"].items()),
             ("policy_sha256", shown["policy_sha256"])]
    return t.key_values("Gate policy", [(k, t.text(v)) for k, v in facts])


def audit_table(result: dict[str, Any]):
    """What ``audit verify`` checked, and its verdict."""
    t = _tables()
    counts = Counter(result.get("actions") or [])
    facts = [("audit log", result["log"]), ("entries", result["entries"]),
             ("by action", ", ".join(f"{action} {n}" for action, n in sorted(counts.items())) or "-"),
             ("key folder", result["key_folder"]),
             ("verdict", "keyed hash chain intact and anchored; reports, manifests, approvals, the approved model "
                         "and policy match it"
              if result["intact"] else f"{len(result['problems'])} problem(s): see below")]
    return t.key_values("Audit chain", facts)
