"""An append-only JSON-lines audit log in which every entry carries the hash of the one before.

Entry: ``{"seq", "time", "action", "details", "prev_hash", "hash"}`` where ``hash`` is the SHA256 of the entry's
canonical JSON without ``hash``. :meth:`AuditLog.verify` recomputes the chain, so an edited, removed, inserted or
reordered line is detected. A torn last line (a crash mid-append, no newline) is not an entry;
:meth:`AuditLog.repair_torn_tail` drops it and records that it did.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kraken_global.registry.crash import ENV as CRASH_ENV
from kraken_global.registry.crash import EXIT_CODE as CRASH_EXIT_CODE
from kraken_global.registry.errors import IntegrityError
from kraken_global.registry.paths import fsync_dir

GENESIS = "0" * 64


def _digest(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        complete = self.path.read_bytes().split(b"\n")[:-1]  # a torn last line (no newline) is not an entry
        out = []
        for number, line in enumerate(complete, start=1):
            try:
                entry = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError:
                raise IntegrityError(f"audit log {self.path}, line {number}: not UTF-8 text") from None
            except json.JSONDecodeError as exc:
                raise IntegrityError(f"audit log {self.path}, line {number}: not valid JSON ({exc.msg})") from None
            if not isinstance(entry, dict):
                raise IntegrityError(f"audit log {self.path}, line {number}: not an audit entry")
            out.append(entry)
        return out

    def last(self) -> dict[str, Any] | None:
        entries = self.entries()
        return entries[-1] if entries else None

    def append(self, action: str, details: dict[str, Any]) -> dict[str, Any]:
        previous = self.last()
        entry = {
            "seq": (previous["seq"] + 1) if previous else 1,
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            "action": action,
            "details": details,
            "prev_hash": previous["hash"] if previous else GENESIS,
        }
        entry["hash"] = _digest(entry)
        line = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
        new_file = not self.path.exists()
        with open(self.path, "a") as handle:
            if os.environ.get(CRASH_ENV) == "audit:torn":  # a crash in the middle of the write, for tests
                handle.write(line[: len(line) // 2])
                handle.flush()
                os._exit(CRASH_EXIT_CODE)
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        if new_file:
            fsync_dir(self.path.parent)
        return entry

    def verify(self) -> int:
        """Check the whole chain; returns the number of entries or raises IntegrityError naming the line."""
        previous_hash, expected_seq = GENESIS, 1
        entries = self.entries()
        for number, entry in enumerate(entries, start=1):
            where = f"audit log {self.path}, line {number}"
            if entry.get("seq") != expected_seq:
                raise IntegrityError(f"{where}: sequence {entry.get('seq')} where {expected_seq} was expected "
                                     "(a line was removed, inserted or reordered)")
            if entry.get("prev_hash") != previous_hash:
                raise IntegrityError(f"{where}: prev_hash does not match the line before "
                                     "(a line was removed, inserted or reordered)")
            if entry.get("hash") != _digest(entry):
                raise IntegrityError(f"{where}: hash does not match the content (the line was edited)")
            previous_hash, expected_seq = entry["hash"], expected_seq + 1
        return len(entries)

    def repair_torn_tail(self) -> bool:
        """Drop an incomplete last line left by a crash during append; True if one was dropped."""
        if not self.path.exists():
            return False
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return False
        keep = data[: data.rfind(b"\n") + 1]
        with open(self.path, "r+b") as handle:
            handle.truncate(len(keep))
            handle.flush()
            os.fsync(handle.fileno())
        return True
