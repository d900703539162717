"""A registry-wide ledger of trials, so the Deflated Sharpe Ratio deflates by what was really tried.

Every ``train``, every sweep point and every distinct configuration gated is a trial: a chance to find a good
Sharpe by luck. Counting candidate folders instead misses sweeps and counts duplicates. A trial is identified by
what it tried (the model's SHA256, or none, and the fingerprint of the trading configuration), so doing the same
thing twice counts once.

Re-gating a candidate must never change its DSR. So the first gating of a candidate under a policy freezes the
*basis* of its DSR (the number of trials and the variance of their Sharpes at that moment) in the ledger, and every
later gating of the same model under the same policy reuses it.

The ledger lives in the namespace's keyed audit chain (``trial`` and ``dsr_basis`` entries), so a deleted,
edited, cut or forged record is detected like any other entry, and the DSR reads only the audited count: nothing
in the artifacts folder that the chain does not vouch for can lower it. A sweep's points are one write, with a
``sweep_points`` entry holding the SHA256 of each point's line as its sweep folder gets it (refused ones too), so
that whoever resumes a sweep to judge it (a configuration's gates) can tell the points the registry ran from ones
edited or planted in the folder, which lies outside the registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kraken_global.canonical import canonical_sha256
from kraken_global.registry.store import RegistryStore

# Below this many trials with a Sharpe, their variance says little; the DSR then uses the estimator's own variance.
MIN_TRIALS_FOR_VARIANCE = 5
TRIAL, BASIS, SWEEP_POINTS = "trial", "dsr_basis", "sweep_points"


@dataclass(frozen=True)
class DsrBasis:
    """What a candidate's DSR is deflated by: frozen at its first gating under a policy."""

    trials: int
    sharpes: tuple[float, ...]  # annualized Sharpes of the trials that have one
    frozen_at: int  # audit log length when frozen

    @property
    def enough_for_variance(self) -> bool:
        return len(self.sharpes) >= MIN_TRIALS_FOR_VARIANCE

    def as_dict(self) -> dict[str, Any]:
        return {"trials": self.trials, "trials_with_sharpe": len(self.sharpes), "frozen_at": self.frozen_at,
                "variance_from": "trials" if self.enough_for_variance else "estimator",
                "variance_note": ("variance of the trials' Sharpes" if self.enough_for_variance else
                                  f"only {len(self.sharpes)} trials have a Sharpe (fewer than "
                                  f"{MIN_TRIALS_FOR_VARIANCE}): the estimator's own variance is used instead")}


class TrialLedger:
    """The trial ledger of one registry namespace, kept in its audit chain.

    ``TrialLedger(registry)``, or ``TrialLedger(root)`` with the namespace folder (``registry.root``)."""

    def __init__(self, registry: RegistryStore | Path) -> None:
        if not isinstance(registry, RegistryStore):
            root = Path(registry).resolve()
            registry = RegistryStore(root.parent, root.name)
        self.registry = registry
        self.file = registry.audit.path  # where the ledger lives: the audit log

    def entries(self) -> list[dict[str, Any]]:
        """The ledger's records (``kind`` ``train``, ``sweep``, ``gate`` or ``basis``), from the verified chain."""
        return [{**e["details"], "entry": e["seq"]} for e in self.registry.audit.verify_entries()
                if e["action"] in (TRIAL, BASIS)]

    def trials(self) -> dict[str, dict[str, Any]]:
        """Distinct trials by key: the first record of each, with the latest Sharpe seen for it."""
        found: dict[str, dict[str, Any]] = {}
        for entry in self.entries():
            if entry["kind"] == "basis":
                continue
            key = entry["key"]
            if key not in found:
                found[key] = dict(entry)
            elif entry.get("sharpe") is not None:
                found[key]["sharpe"] = entry["sharpe"]
        return found

    def count(self) -> int:
        return len(self.trials())

    def record(self, kind: str, model_sha: str | None, system: Any, sharpe: float | None = None,
               ref: str | None = None) -> str:
        """Record a trial (``train``, ``sweep`` or ``gate``); returns its key. The same model and system again is
        the same trial."""
        return self.record_many(kind, [(model_sha, system, sharpe, ref)])[0]

    def record_many(self, kind: str, trials: list[tuple[str | None, Any, float | None, str | None]],
                    sweep_points: dict[str, Any] | None = None) -> list[str]:
        """Record several trials of one kind (``(model_sha, system, sharpe, ref)`` each) with one audited write:
        a sweep's points, with ``sweep_points`` (``{"sweep": identity, "lines": {point: sha256}}``) vouching for
        the lines its folder gets."""
        records = [_trial(kind, *trial) for trial in trials]
        items = [(TRIAL, record) for record in records]
        if sweep_points is not None:
            items.append((SWEEP_POINTS, sweep_points))
        if items:
            with self.registry.locked():
                self.registry.recover()
                self.registry.audit.append_many(items)
        return [record["key"] for record in records]

    def vouched_lines(self, sweep: str) -> dict[int, set[str]]:
        """For the sweep ``sweep`` (its manifest identity): each point's line SHA256s the chain vouches for."""
        vouched: dict[int, set[str]] = {}
        for entry in self.registry.audit.verify_entries():
            if entry["action"] == SWEEP_POINTS and entry["details"].get("sweep") == sweep:
                for point, sha in entry["details"].get("lines", {}).items():
                    vouched.setdefault(int(point), set()).add(sha)
        return vouched

    def basis(self, model_sha: str, policy_hash: str) -> DsrBasis:
        """The DSR basis of ``model_sha`` under ``policy_hash``: frozen now if this is its first gating."""
        with self.registry.locked():
            self.registry.recover()
            for entry in self.entries():
                if entry["kind"] == "basis" and entry["model"] == model_sha and entry["policy"] == policy_hash:
                    return DsrBasis(entry["trials"], tuple(entry["sharpes"]), entry["frozen_at"])
            trials = self.trials()
            sharpes = tuple(float(t["sharpe"]) for t in trials.values() if t.get("sharpe") is not None)
            basis = DsrBasis(max(len(trials), 1), sharpes, len(self.registry.audit.verify_entries()))
            self.registry.audit.append(BASIS, {"kind": "basis", "model": model_sha, "policy": policy_hash,
                                               "trials": basis.trials, "sharpes": list(sharpes),
                                               "frozen_at": basis.frozen_at})
            return basis


def _trial(kind: str, model_sha: str | None, system: Any, sharpe: float | None, ref: str | None) -> dict[str, Any]:
    if sharpe is not None and not math.isfinite(sharpe):
        sharpe = None  # a Sharpe of nan (no trades) says nothing about the spread of the trials
    key = canonical_sha256({"model": model_sha, "system": canonical_sha256(system)})
    return {"kind": kind, "key": key, "model": model_sha, "ref": ref,
            "sharpe": None if sharpe is None else float(sharpe)}
