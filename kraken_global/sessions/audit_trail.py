"""A session's audit trail: ``audit.jsonl`` in its folder, append-only and hash-chained.

Each line is one action taken on the running session from outside its strategies (a dashboard control: pause,
resume, stop, flatten) or by its capital ramp (a step), with who asked (the client's address), when, and
``prev``/``hash``: the SHA256 of the previous line's hash and this line's canonical JSON. An edited, removed or
reordered line breaks the chain from there on, and :func:`verify_trail` says where. (The registry's audit chain is
also keyed; this one is not: it records operations, it does not vouch for what may trade.)
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

TRAIL_FILE = "audit.jsonl"
GENESIS = "0" * 64


def _digest(prev: str, entry: dict[str, Any]) -> str:
    body = json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


class AuditTrail:
    """Appends to ``folder/audit.jsonl`` (fsynced line by line); safe to call from several threads."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / TRAIL_FILE
        self._lock = threading.Lock()
        self._seq, self._last = 0, GENESIS
        for entry in read_trail(self.path):  # a restarted writer continues the chain
            self._seq, self._last = entry.get("seq", self._seq), entry.get("hash", self._last)

    def append(self, action: str, actor: str, **details: Any) -> dict[str, Any]:
        with self._lock:
            entry = {"seq": self._seq + 1, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "action": action, "actor": actor, "details": details, "prev": self._last}
            entry["hash"] = _digest(self._last, entry)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            self._seq, self._last = entry["seq"], entry["hash"]
            return entry


def read_trail(path: Path) -> list[dict[str, Any]]:
    """The trail's entries as written (a torn last line, from a crash mid-write, is left out)."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def verify_trail(path: Path) -> list[str]:
    """Problems of the chain, one line each (empty: intact)."""
    problems, prev, seq = [], GENESIS, 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines() if path.exists() else [], 1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            problems.append(f"{path}:{number}: not JSON")
            continue
        body = {k: v for k, v in entry.items() if k != "hash"}
        if entry.get("prev") != prev or entry.get("seq") != seq + 1 or _digest(prev, body) != entry.get("hash"):
            problems.append(f"{path}:{number}: the chain breaks here (edited, removed or reordered)")
        prev, seq = entry.get("hash", prev), entry.get("seq", seq)
    return problems
