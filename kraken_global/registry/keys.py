"""The audit chain's key and head anchors, kept OUTSIDE the artifacts folder.

Anyone who can write the artifacts folder could otherwise rewrite the whole audit log with recomputed hashes, or cut
its tail. So every entry is signed with an HMAC-SHA256 whose key lives in a separate folder
(``$KRAKEN_GLOBAL_KEY_DIR``, else ``$XDG_CONFIG_HOME/kraken-global``, else ``~/.config/kraken-global``):
``audit.key`` (0600, created on first use) and ``anchors/<head>.json``, one per log (named by its first entry's
hash, so the artifacts may be mounted elsewhere), holding its length and last hash (signed too), and
``anchors/paths/``, which head each log path last had. A log shorter than its anchor, or whose entry at the anchored
position differs, was truncated or rewritten; an empty or missing log, or one with another head, at a path that had
an anchored log was deleted or replaced. Back the folder up with the artifacts: without the key no log it signed can
be verified, so no approved model can be loaded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from kraken_global.registry.errors import IntegrityError
from kraken_global.registry.paths import atomic_write

ENV_KEY_DIR = "KRAKEN_GLOBAL_KEY_DIR"
KEY_FILE = "audit.key"


def default_key_dir() -> Path:
    """``$KRAKEN_GLOBAL_KEY_DIR``, else ``$XDG_CONFIG_HOME/kraken-global``, else ``~/.config/kraken-global``."""
    from kraken_global.user_dirs import user_dir

    return user_dir(ENV_KEY_DIR, "XDG_CONFIG_HOME")


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
        text = self.key_file.read_text().strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) < 32:
            raise IntegrityError(f"the audit key {self.key_file} is not a valid key (64 hex digits)")
        return key

    def anchor_file(self, head: str) -> Path:
        """The anchor of the log whose first entry has hash ``head`` (so the log may move, e.g. into a container)."""
        if not head.isalnum():
            raise IntegrityError(f"audit log head {head[:16]!r} is not a hash")
        return self.folder / "anchors" / f"{head[:32]}.json"

    def path_index(self, log: Path) -> Path:
        """Which head was last anchored for the log at this path: shows a log deleted, emptied or replaced."""
        return self.folder / "anchors" / "paths" / hashlib.sha256(str(Path(log).resolve()).encode()).hexdigest()[:32]

    def head_at(self, log: Path) -> str | None:
        index = self.path_index(log)
        return index.read_text().strip() if index.exists() else None

    def read_anchor(self, head: str, key: bytes) -> dict[str, Any] | None:
        path = self.anchor_file(head)
        if not path.exists():
            return None
        try:
            anchor = json.loads(path.read_text())
            body = _anchor_body(anchor["head"], int(anchor["length"]), anchor["last_hash"])
            ok = anchor["head"] == head and hmac.compare_digest(anchor["mac"], sign(key, body))
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            raise IntegrityError(f"the audit anchor {path} is damaged or was not signed with this key")
        return anchor

    def write_anchor(self, log: Path, head: str, key: bytes, length: int, last_hash: str) -> None:
        path = self.anchor_file(head)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        anchor = {"head": head, "length": length, "last_hash": last_hash,
                  "mac": sign(key, _anchor_body(head, length, last_hash))}
        atomic_write(path, (json.dumps(anchor, sort_keys=True) + "\n").encode())
        index = self.path_index(log)
        if self.head_at(log) != head:
            index.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write(index, (head + "\n").encode())


def _anchor_body(head: str, length: int, last_hash: str) -> dict[str, Any]:
    return {"head": head, "length": length, "last_hash": last_hash}


def sign(key: bytes, body: dict[str, Any]) -> str:
    """HMAC-SHA256 of the canonical JSON of ``body``."""
    return hmac.new(key, json.dumps(body, sort_keys=True, separators=(",", ":")).encode(), hashlib.sha256).hexdigest()
