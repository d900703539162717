"""A registry-wide ledger of trials, so the Deflated Sharpe Ratio deflates by what was really tried.

Every ``train``, every sweep point and every distinct configuration gated is a trial: a chance to find a good
Sharpe by luck. Counting candidate folders instead misses sweeps and counts duplicates. A trial is identified by
what it tried (the model's SHA256, or none, and the fingerprint of the trading configuration), so doing the same
thing twice counts once.

Re-gating a candidate must never change its DSR. So the first gating of a candidate under a policy freezes the
*basis* of its DSR (the number of trials and the variance of their Sharpes at that moment) in the ledger, and every
later gating of the same model under the same policy reuses it.

The ledger is one append-only JSON-lines file in the namespace (``trials.jsonl``), written under its own lock with
an fsync per line; a torn last line (a crash mid-append) is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

# Below this many trials with a Sharpe, their variance says little; the DSR then uses the estimator's own variance.
MIN_TRIALS_FOR_VARIANCE = 5


def fingerprint(data: Any) -> str:
    """SHA256 of the canonical JSON of ``data``."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


@dataclass(frozen=True)
class DsrBasis:
    """What a candidate's DSR is deflated by: frozen at its first gating under a policy."""

    trials: int
    sharpes: tuple[float, ...]  # annualized Sharpes of the trials that have one
    frozen_at: int  # ledger length when frozen

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
    def __init__(self, root: Path) -> None:
        self.file = Path(root) / "trials.jsonl"
        self._lock = FileLock(str(Path(root) / "trials.lock"), timeout=60)

    def entries(self) -> list[dict[str, Any]]:
        if not self.file.exists():
            return []
        out = []
        for line in self.file.read_bytes().splitlines():
            try:
                entry = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                continue  # a torn last line from a crash mid-append
            if isinstance(entry, dict) and "kind" in entry:
                out.append(entry)
        return out

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
        key = fingerprint({"model": model_sha, "system": fingerprint(system)})
        self._append({"kind": kind, "key": key, "model": model_sha, "ref": ref,
                      "sharpe": None if sharpe is None else float(sharpe)})
        return key

    def basis(self, model_sha: str, policy_hash: str) -> DsrBasis:
        """The DSR basis of ``model_sha`` under ``policy_hash``: frozen now if this is its first gating."""
        with self._lock:
            for entry in self.entries():
                if entry["kind"] == "basis" and entry["model"] == model_sha and entry["policy"] == policy_hash:
                    return DsrBasis(entry["trials"], tuple(entry["sharpes"]), entry["frozen_at"])
            trials = self.trials()
            sharpes = tuple(float(t["sharpe"]) for t in trials.values() if t.get("sharpe") is not None)
            basis = DsrBasis(max(len(trials), 1), sharpes, len(self.entries()))
            self._append_locked({"kind": "basis", "model": model_sha, "policy": policy_hash,
                                 "trials": basis.trials, "sharpes": list(sharpes), "frozen_at": basis.frozen_at})
            return basis

    def _append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._append_locked(entry)

    def _append_locked(self, entry: dict[str, Any]) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, sort_keys=True) + "\n").encode()
        with open(self.file, "ab") as handle:
            if handle.tell() and not self._ends_with_newline():
                handle.write(b"\n")  # fence off a torn line so the new entry stays readable
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def _ends_with_newline(self) -> bool:
        with open(self.file, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"
