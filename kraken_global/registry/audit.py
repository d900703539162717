"""An append-only JSON-lines audit log: every entry carries the hash of the one before, signed with a key.

Entry: ``{"seq", "time", "action", "details", "chain", "prev_hash", "hash"}`` where ``hash`` is the HMAC-SHA256
(key: :mod:`kraken_global.registry.keys`, kept outside the artifacts folder) of the entry's canonical JSON without
``hash``. :meth:`AuditLog.verify` recomputes the chain, so an edited, removed, inserted, reordered or forged line is
detected; the signed anchor beside the key (length and last hash) shows a truncated, emptied, deleted or rewritten
log. A torn last line (a crash mid-append, no newline) is not an entry; :meth:`AuditLog.repair_torn_tail` drops it
and records that it did. A log written before the chain was keyed (entries without ``chain``) is refused with a
message saying how to move on.
"""

from __future__ import annotations

import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kraken_global.registry.crash import ENV as CRASH_ENV
from kraken_global.registry.crash import EXIT_CODE as CRASH_EXIT_CODE
from kraken_global.registry.errors import IntegrityError
from kraken_global.registry.keys import AuditKeys, sign
from kraken_global.registry.paths import fsync_dir, read_regular

GENESIS = "0" * 64
CHAIN = "hmac-sha256"


class LegacyAuditLog(IntegrityError):
    """The log predates the keyed chain: it cannot vouch for any approval."""


def _digest(key: bytes, entry: dict[str, Any]) -> str:
    return sign(key, {k: v for k, v in entry.items() if k != "hash"})


class AuditLog:
    def __init__(self, path: Path, keys: AuditKeys | None = None) -> None:
        self.path = Path(path)
        self.keys = keys or AuditKeys()

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists() and not self.path.is_symlink():
            return []
        complete = read_regular(self.path, "the audit log").split(b"\n")[:-1]  # a torn last line is not an entry
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
        """Verify the chain (a tampered log is never extended: that would bless it), append, move the anchor."""
        entries = self.verify_entries()
        key = self.keys.key(create=not entries)
        previous = entries[-1] if entries else None
        entry = {
            "seq": (previous["seq"] + 1) if previous else 1,
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            "action": action,
            "details": details,
            "chain": CHAIN,
            "prev_hash": previous["hash"] if previous else GENESIS,
        }
        entry["hash"] = _digest(key, entry)
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
        head = (entries[0] if entries else entry)["hash"]
        self.keys.write_anchor(self.path, head, key, entry["seq"], entry["hash"])
        return entry

    def verify(self) -> int:
        """Check the whole chain and its anchor; returns the number of entries or raises IntegrityError."""
        return len(self.verify_entries())

    def verify_entries(self) -> list[dict[str, Any]]:
        """The entries, after checking every signature, link and the anchor (see the module docstring)."""
        entries = self.entries()
        if not entries:
            head = self.keys.head_at(self.path)
            if head is not None and self.keys.exists():
                anchor = self.keys.read_anchor(head, self.keys.key(create=False))
                if anchor is not None and anchor["length"] > 0:
                    state = "is missing" if not self.path.exists() else "is empty"
                    raise IntegrityError(f"audit log {self.path} {state}, but its anchor records {anchor['length']} "
                                         "entries: the log was deleted or emptied; restore it from a backup")
            return entries
        if any("chain" not in e for e in entries):
            raise LegacyAuditLog(f"audit log {self.path} was written before the audit chain was keyed and cannot "
                                 "vouch for any approval: move this registry namespace aside and train, gate and "
                                 "promote into a new one (see README, 'Registry and artifacts')")
        key = self.keys.key(create=False)
        previous_hash, expected_seq = GENESIS, 1
        for number, entry in enumerate(entries, start=1):
            where = f"audit log {self.path}, line {number}"
            if entry.get("seq") != expected_seq:
                raise IntegrityError(f"{where}: sequence {entry.get('seq')} where {expected_seq} was expected "
                                     "(a line was removed, inserted or reordered)")
            if entry.get("prev_hash") != previous_hash:
                raise IntegrityError(f"{where}: prev_hash does not match the line before "
                                     "(a line was removed, inserted or reordered)")
            if entry.get("chain") != CHAIN or not hmac.compare_digest(str(entry.get("hash")), _digest(key, entry)):
                raise IntegrityError(f"{where}: hash does not match the content and the key (the line was edited "
                                     "or forged)")
            previous_hash, expected_seq = entry["hash"], expected_seq + 1
        head = entries[0]["hash"]
        known = self.keys.head_at(self.path)
        if known is not None and known != head:
            raise IntegrityError(f"audit log {self.path} is not the log anchored at this path (its first entry "
                                 "differs from the anchored head): the log was rewritten or replaced")
        anchor = self.keys.read_anchor(head, key)
        if anchor is None:
            raise IntegrityError(f"audit log {self.path} has no anchor in {self.keys.folder / 'anchors'}: restore the "
                                 "key folder's anchors from your backup")
        length = anchor["length"]
        if len(entries) < length:
            raise IntegrityError(f"audit log {self.path} has {len(entries)} entries, but its anchor records {length}: "
                                 "the log was truncated")
        if length and entries[length - 1]["hash"] != anchor["last_hash"]:
            raise IntegrityError(f"audit log {self.path}, line {length}: differs from the anchored head (the log "
                                 "was rewritten)")
        return entries

    def sync_anchor(self) -> None:
        """Move the anchor to a verified log's head (after a crash between an append and its anchor update)."""
        entries = self.verify_entries()
        if not entries:
            return
        key = self.keys.key(create=False)
        anchor = self.keys.read_anchor(entries[0]["hash"], key)
        if anchor is None or anchor["length"] != entries[-1]["seq"] or self.keys.head_at(self.path) is None:
            self.keys.write_anchor(self.path, entries[0]["hash"], key, entries[-1]["seq"], entries[-1]["hash"])

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
