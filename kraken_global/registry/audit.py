"""An append-only JSON-lines audit log: every entry carries the hash of the one before, signed with a key.

Entry: ``{"seq", "time", "action", "details", "chain", "prev_hash", "hash"}`` where ``hash`` is the HMAC-SHA256
(key: :mod:`kraken_global.registry.keys`, kept outside the artifacts folder) of the entry's canonical JSON without
``hash``. :meth:`AuditLog.verify` recomputes the chain, so an edited, removed, inserted, reordered or forged line is
detected; the signed anchor beside the key (length and last hash) shows a truncated, emptied, deleted or rewritten
log, and tells a moved or copied namespace from the original (:mod:`kraken_global.registry.instances`). A torn
last line (a crash mid-append, no newline) is not an entry; :meth:`AuditLog.repair_torn_tail` drops it and records
that it did. A verified prefix is remembered, so the next check of a grown log checks only the new lines. A log
written before the chain was keyed (entries without ``chain``) is refused with a message saying how to move on.
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
from kraken_global.registry.instances import Instance, resolve
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
        self.instance: Instance | None = None  # set by verify_entries: the original, moved, or a copy
        self._verified: tuple[bytes, bytes, list[dict[str, Any]]] | None = None  # (key, bytes, entries) checked

    def _data(self) -> bytes:
        if not self.path.exists() and not self.path.is_symlink():
            return b""
        return read_regular(self.path, "the audit log")

    def entries(self) -> list[dict[str, Any]]:
        return self._parse(self._data(), 0)

    def _parse(self, data: bytes, first_line: int) -> list[dict[str, Any]]:
        """Entries of the complete lines in ``data`` (a torn last line is not an entry); ``first_line``: the line
        number of the first one, for messages."""
        out = []
        for number, line in enumerate(data.split(b"\n")[:-1], start=first_line + 1):
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
        return self.append_many([(action, details)])[-1]

    def append_many(self, items: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Append several entries with one verification, one write and one anchor update (a sweep's trials).

        The first change to a copied namespace records it as a copy first (a ``namespace_copied`` entry)."""
        entries = self.verify_entries()
        key = self.keys.key(create=not entries)
        instance = self.instance
        if instance is not None and instance.anchor is None:
            items = [("namespace_copied", {"from": instance.copy_of, "at_entry": len(entries)}), *items]
        previous = entries[-1] if entries else None
        written = []
        for action, details in items:
            entry = {
                "seq": (previous["seq"] + 1) if previous else 1,
                "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                "action": action,
                "details": details,
                "chain": CHAIN,
                "prev_hash": previous["hash"] if previous else GENESIS,
            }
            entry["hash"] = _digest(key, entry)
            written.append(entry)
            previous = entry
        data = "".join(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n" for e in written)
        new_file = not self.path.exists()
        with open(self.path, "a") as handle:
            if os.environ.get(CRASH_ENV) == "audit:torn":  # a crash in the middle of the write, for tests
                handle.write(data[: len(data) // 2])
                handle.flush()
                os._exit(CRASH_EXIT_CODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if new_file:
            fsync_dir(self.path.parent)
        self._move_anchor([*entries, *written], key)
        return written

    def _move_anchor(self, entries: list[dict[str, Any]], key: bytes) -> None:
        """Anchor the log at its length: its own anchor (recording this path), or its copy anchor."""
        instance = self.instance
        head, last = entries[0]["hash"], entries[-1]
        copy_of = instance.copy_of if instance is not None else None
        copied_at = instance.copied_at if instance is not None else None
        self.keys.write_anchor(self.path, head, key, last["seq"], last["hash"], copy_of, copied_at)
        stale = instance.anchor.file if instance is not None and instance.anchor is not None else None
        if copy_of is not None and stale is not None and stale != self.keys.copy_anchor_file(head, self.path):
            stale.unlink(missing_ok=True)  # a copy moved to another path: its anchor follows it

    def verify(self) -> int:
        """Check the whole chain and its anchor; returns the number of entries or raises IntegrityError."""
        return len(self.verify_entries())

    def verify_entries(self) -> list[dict[str, Any]]:
        """The entries, after checking every signature, link and the anchor (see the module docstring)."""
        data = self._data()
        complete = data[: data.rfind(b"\n") + 1]
        if not complete:
            self.instance = None
            self._check_not_deleted()
            return []
        cached = self._verified
        known = cached[2] if cached is not None and complete.startswith(cached[1]) else []
        start = len(cached[1]) if known else 0
        new = self._parse(complete[start:], len(known))
        entries = [*known, *new]
        if any("chain" not in e for e in new):
            raise LegacyAuditLog(f"audit log {self.path} was written before the audit chain was keyed and cannot "
                                 "vouch for any approval: move this registry namespace aside and train, gate and "
                                 "promote into a new one (see README, 'Registry and artifacts')")
        key = self.keys.key(create=False)
        if known and not hmac.compare_digest(cached[0], key):
            return self._forget_and_verify()
        previous_hash, expected_seq = (known[-1]["hash"], known[-1]["seq"] + 1) if known else (GENESIS, 1)
        for number, entry in enumerate(new, start=len(known) + 1):
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
        anchored = self.keys.head_at(self.path)
        if anchored is not None and anchored != head:
            raise IntegrityError(f"audit log {self.path} is not the log anchored at this path (its first entry "
                                 "differs from the anchored head): the log was rewritten or replaced")
        self.instance = resolve(self.keys, self.path, entries, key)
        self._verified = (key, complete, entries)
        return entries

    def _forget_and_verify(self) -> list[dict[str, Any]]:
        self._verified = None
        return self.verify_entries()

    def _check_not_deleted(self) -> None:
        """An empty or missing log at a path whose anchored log had entries was deleted or emptied."""
        head = self.keys.head_at(self.path)
        if head is None or not self.keys.exists():
            return
        here = str(self.path.resolve())
        for anchor in self.keys.anchors(head, self.keys.key(create=False)):
            if anchor.path in (here, None) and anchor.length > 0:
                state = "is missing" if not self.path.exists() else "is empty"
                raise IntegrityError(f"audit log {self.path} {state}, but its anchor records {anchor.length} "
                                     "entries: the log was deleted or emptied; restore it from a backup")

    def identity(self) -> dict[str, Any]:
        """Where this log is and what it is: the original, moved from another path, or a copy of another log."""
        self.verify_entries()
        described = self.instance.describe() if self.instance is not None else Instance(None).describe()
        return {"log": str(self.path.resolve()), **described}

    def sync_anchor(self) -> None:
        """Move the anchor to a verified log's head (after a crash between an append and its anchor update), record
        a moved log's new path, and record a copied log as a copy (from then on it has an anchor of its own)."""
        entries = self.verify_entries()
        if not entries:
            return
        instance = self.instance
        anchor = instance.anchor if instance is not None else None
        if anchor is None:
            self.append_many([])  # a copy's first use: its namespace_copied entry and its own anchor
        elif anchor.length != entries[-1]["seq"] or anchor.path != str(self.path.resolve()) or \
                self.keys.head_at(self.path) is None:
            self._move_anchor(entries, self.keys.key(create=False))

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
