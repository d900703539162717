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
    body = [[r["id"] + (" *" if r["approved"] else ""), (r.get("created") or "")[:16].replace("T", " "),
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
             ("sha256", manifest.get("sha256")), ("created", manifest.get("created")),
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


def history_table(history: dict[str, Any]):
    """Promotions and rollbacks from the audit log, oldest first."""
    t = _tables()
    rows = [[(e.get("time") or "")[:19], e.get("action"), (e.get("details") or {}).get("id"),
             (e.get("details") or {}).get("actor")] for e in history["audit"]]
    approved = (history.get("approved") or {}).get("id")
    return t.table(f"Approvals and rollbacks (approved now: {approved or 'none'})",
                   ("time (UTC)", "action", "model", "by"), rows, left=4)


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
             ("verdict", "keyed hash chain intact and anchored; reports, approvals and policy match it"
              if result["intact"] else f"{len(result['problems'])} problem(s): see below")]
    return t.key_values("Audit chain", facts)
