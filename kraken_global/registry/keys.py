"""The audit chain's key and head anchors, kept OUTSIDE the artifacts folder.

Anyone who can write the artifacts folder could otherwise rewrite the whole audit log with recomputed hashes, or
cut its tail. So every entry is signed with an HMAC-SHA256 whose key lives in a separate folder (default
``~/.config/kraken-global``, or ``$KRAKEN_GLOBAL_KEY_DIR``): ``audit.key`` (0600, created on first use) and the
anchors, each signed too, holding a log's length and last hash:

- ``anchors/<head>.json``: the log whose first entry has hash ``head`` (so the artifacts may be mounted
  elsewhere), and the path it was last written at;
- ``anchors/copies/<head>-<path>.json``: a copy of that log at another path (a copied namespace), with the path it
  was copied from and the entry it was copied at, so a copy and its original never move each other's anchor;
- ``anchors/paths/``: which head each log path last had.

A log shorter than its anchor, or whose entry at the anchored position differs, was truncated or rewritten; an
empty or missing log, or one with another head, at a path that had an anchored log was deleted or replaced. Which
anchor vouches for a log at a given path is :mod:`kraken_global.registry.instances`' job. Back the folder up with
the artifacts: without the key no log it signed can be verified, so no approved model can be loaded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kraken_global.registry.errors import IntegrityError
from kraken_global.registry.paths import atomic_write

ENV_KEY_DIR = "KRAKEN_GLOBAL_KEY_DIR"
KEY_FILE = "audit.key"
KEY_FILE_MAX_BYTES = 4096  # 64 hex digits and a newline; anything much larger is not a key


def default_key_dir() -> Path:
    configured = os.environ.get(ENV_KEY_DIR)
    return Path(configured) if configured else Path.home() / ".config" / "kraken-global"


def path_id(log: Path) -> str:
    """A short name for a log's resolved path (anchor file names)."""
    return hashlib.sha256(str(Path(log).resolve()).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Anchor:
    """A signed record of one log instance: its head, length and last hash, the path it was written at (None for
    anchors written before anchors named their log), and for a copy, where it was copied from and at which entry."""

    head: str
    length: int
    last_hash: str
    path: str | None
    file: Path
    copy_of: str | None = None
    copied_at: int | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"head": self.head, "length": self.length, "last_hash": self.last_hash}
        if self.path is not None:
            body["path"] = self.path
        if self.copy_of is not None:
            body.update(copy_of=self.copy_of, copied_at=self.copied_at)
        return body


class AuditKeys:
    """The key folder: ``audit.key`` and ``anchors/``. The key is never printed or put in an exception."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_key_dir()
        self.key_file = self.folder / KEY_FILE

    def exists(self) -> bool:
        return self.key_file.exists()

    def key(self, create: bool) -> bytes:
        """The key; created (0600, in a 0700 folder) only when ``create`` (a log with no entries yet)."""
        if not self.key_file.exists():
            if not create:
                raise IntegrityError(f"the audit key {self.key_file} is missing, but the audit log was signed with "
                                     "it: restore the key folder from your backup (or set KRAKEN_GLOBAL_KEY_DIR)")
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process created it first
                return self.key(create=False)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        if self.key_file.is_symlink() or not self.key_file.is_file():
            raise IntegrityError(f"the audit key {self.key_file} is not a regular file")
        if self.key_file.stat().st_mode & 0o077:
            raise IntegrityError(f"the audit key {self.key_file} is readable by others: chmod 600 it")
        with open(self.key_file, "rb") as handle:
            raw = handle.read(KEY_FILE_MAX_BYTES + 1)
        try:
            key = bytes.fromhex(raw.decode("ascii").strip()) if len(raw) <= KEY_FILE_MAX_BYTES else b""
        except (UnicodeDecodeError, ValueError):
            key = b""
        if len(key) < 32:
            raise IntegrityError(f"the audit key {self.key_file} is not a valid key (64 hex digits): restore it "
                                 "from your backup")
        return key

    # -- anchors --------------------------------------------------------------------------------------------

    def anchor_file(self, head: str) -> Path:
        """The anchor of the log whose first entry has hash ``head`` (so the log may move, e.g. into a container)."""
        _check_head(head)
        return self.folder / "anchors" / f"{head[:32]}.json"

    def copy_anchor_file(self, head: str, log: Path) -> Path:
        _check_head(head)
        return self.folder / "anchors" / "copies" / f"{head[:32]}-{path_id(log)}.json"

    def path_index(self, log: Path) -> Path:
        """Which head was last anchored for the log at this path: shows a log deleted, emptied or replaced."""
        return self.folder / "anchors" / "paths" / path_id(log)

    def head_at(self, log: Path) -> str | None:
        index = self.path_index(log)
        return index.read_text().strip() if index.exists() else None

    def anchors(self, head: str, key: bytes) -> list[Anchor]:
        """Every anchor of the log ``head``: the original first (if any), then its copies."""
        found = [self._read(self.anchor_file(head), head, key)]
        copies = self.folder / "anchors" / "copies"
        if copies.is_dir():
            found += [self._read(path, head, key) for path in sorted(copies.glob(f"{head[:32]}-*.json"))]
        return [anchor for anchor in found if anchor is not None]

    def _read(self, path: Path, head: str, key: bytes) -> Anchor | None:
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            anchor = Anchor(data["head"], int(data["length"]), data["last_hash"], data.get("path"), path,
                            data.get("copy_of"), data.get("copied_at"))
            ok = anchor.head == head and hmac.compare_digest(data["mac"], sign(key, anchor.body()))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            ok = False
        if not ok:
            raise IntegrityError(f"the audit anchor {path} is damaged or was not signed with this key")
        return anchor

    def write_anchor(self, log: Path, head: str, key: bytes, length: int, last_hash: str,
                     copy_of: str | None = None, copied_at: int | None = None) -> None:
        """Record the log at ``log`` (its own anchor file when it is a copy of the log at ``copy_of``)."""
        where = str(Path(log).resolve())
        path = self.anchor_file(head) if copy_of is None else self.copy_anchor_file(head, log)
        anchor = Anchor(head, length, last_hash, where, path, copy_of, copied_at)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(path, (json.dumps({**anchor.body(), "mac": sign(key, anchor.body())}, sort_keys=True)
                            + "\n").encode())
        index = self.path_index(log)
        if self.head_at(log) != head:
            index.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write(index, (head + "\n").encode())


def _check_head(head: str) -> None:
    if not head.isalnum():
        raise IntegrityError(f"audit log head {head[:16]!r} is not a hash")


def sign(key: bytes, body: dict[str, Any]) -> str:
    """HMAC-SHA256 of the canonical JSON of ``body``."""
    return hmac.new(key, json.dumps(body, sort_keys=True, separators=(",", ":")).encode(), hashlib.sha256).hexdigest()
