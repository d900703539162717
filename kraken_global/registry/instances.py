"""Which anchor vouches for an audit log at a given path: the log's own, a moved log's, or none yet (a copy).

A namespace folder can be moved (a container mounts the artifacts at ``/data/artifacts``) or copied (``cp -r``).
Anchors are named by the log's first entry, so both still find their anchor; what tells them apart is the path
the anchor records:

- anchored at this path: this is the log the anchor vouches for;
- anchored at a path that no longer holds this log: the log was moved (or is mounted elsewhere); the anchor
  vouches for it, and the next change records the new path;
- anchored at a path that still holds this log, and this log is a prefix of that one: a copy. It verifies by its
  signatures alone until the first registry command in it, which records it as a copy (a ``namespace_copied``
  entry and an anchor of its own), so the copy and the original never move each other's anchor. Every output
  names it as a copy.

A copy made from an old state of a namespace looks like a cut-down original: the chain cannot tell them apart, so
it is never hidden (``audit verify``, ``models history`` and every trading output say what it is a copy of).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kraken_global.registry.errors import IntegrityError
from kraken_global.registry.keys import Anchor, AuditKeys


@dataclass(frozen=True)
class Instance:
    """What the log at a path is. ``anchor`` None: a copy not yet recorded as one."""

    anchor: Anchor | None
    copy_of: str | None = None
    copied_at: int | None = None
    moved_from: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"copy_of": self.copy_of, "copied_at_entry": self.copied_at, "moved_from": self.moved_from,
                "copy_recorded": self.copy_of is not None and self.anchor is not None}


def resolve(keys: AuditKeys, log: Path, entries: list[dict[str, Any]], key: bytes) -> Instance:
    """The instance of the verified ``entries`` at ``log``; raises when no anchor vouches for it."""
    head = entries[0]["hash"]
    here = str(Path(log).resolve())
    anchors = keys.anchors(head, key)
    if not anchors:
        raise IntegrityError(f"audit log {log} has no anchor in {keys.folder / 'anchors'}: restore the key folder's "
                             "anchors from your backup")
    for anchor in anchors:
        if anchor.path == here:
            check_length(log, entries, anchor)
            return Instance(anchor, anchor.copy_of, anchor.copied_at)
    moved = [a for a in anchors if a.path is None or _head_of(Path(a.path)) != head]
    for anchor in sorted(moved, key=lambda a: -a.length):
        if _agrees(entries, anchor):
            return Instance(anchor, anchor.copy_of, anchor.copied_at, moved_from=anchor.path)
    for anchor in anchors:
        if anchor not in moved and _is_prefix_of(entries, Path(anchor.path)):
            return Instance(None, copy_of=anchor.path, copied_at=len(entries))
    if moved:
        check_length(log, entries, max(moved, key=lambda a: a.length))
    raise IntegrityError(f"audit log {log} shares its first entry with the logs anchored at "
                         f"{', '.join(str(a.path) for a in anchors)} but matches none of them: it was rewritten")


def check_length(log: Path, entries: list[dict[str, Any]], anchor: Anchor) -> None:
    """A log shorter than its anchor was truncated; one whose entry at the anchored length differs, rewritten."""
    if len(entries) < anchor.length:
        raise IntegrityError(f"audit log {log} has {len(entries)} entries, but its anchor records {anchor.length}: "
                             "the log was truncated")
    if anchor.length and entries[anchor.length - 1]["hash"] != anchor.last_hash:
        raise IntegrityError(f"audit log {log}, line {anchor.length}: differs from the anchored head (the log "
                             "was rewritten)")


def _agrees(entries: list[dict[str, Any]], anchor: Anchor) -> bool:
    return len(entries) >= anchor.length and (anchor.length == 0 or
                                              entries[anchor.length - 1]["hash"] == anchor.last_hash)


def _lines(log: Path, count: int) -> list[dict[str, Any]]:
    """The first ``count`` complete lines of another log, parsed (not verified: only compared with verified
    entries by hash); fewer when it is shorter or unreadable."""
    out: list[dict[str, Any]] = []
    try:
        with open(log, "rb") as handle:
            for raw in handle:
                if len(out) >= count or not raw.endswith(b"\n"):
                    break
                entry = json.loads(raw)
                if not isinstance(entry, dict):
                    break
                out.append(entry)
    except (OSError, ValueError):
        pass
    return out


def _head_of(log: Path) -> str | None:
    first = _lines(log, 1)
    return first[0].get("hash") if first else None


def _is_prefix_of(entries: list[dict[str, Any]], other: Path) -> bool:
    theirs = _lines(other, len(entries))
    return len(theirs) == len(entries) and theirs[-1].get("hash") == entries[-1]["hash"]
