"""The audit chain's key and head anchors, kept OUTSIDE the artifacts folder.

Anyone who can write the artifacts folder could otherwise rewrite the whole audit log with recomputed hashes, or
cut its tail. So every entry is signed with an HMAC-SHA256 whose key lives in a separate folder (default
``~/.config/kraken-global``, or ``$KRAKEN_GLOBAL_KEY_DIR``): ``audit.key`` (0600, created on first use) and
``anchors/<id>.json``, one per log, holding its length and last hash (signed too). A log shorter than its anchor,
or whose entry at the anchored position differs, was truncated or rewritten. Back the folder up with the
artifacts: without the key no log it signed can be verified, so no approved model can be loaded.
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
    configured = os.environ.get(ENV_KEY_DIR)
    return Path(configured) if configured else Path.home() / ".config" / "kraken-global"


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

    def anchor_file(self, log: Path) -> Path:
        ident = hashlib.sha256(str(Path(log).resolve()).encode()).hexdigest()[:32]
        return self.folder / "anchors" / f"{ident}.json"

    def read_anchor(self, log: Path, key: bytes) -> dict[str, Any] | None:
        path = self.anchor_file(log)
        if not path.exists():
            return None
        try:
            anchor = json.loads(path.read_text())
            body = _anchor_body(anchor["log"], int(anchor["length"]), anchor["last_hash"])
            ok = hmac.compare_digest(anchor["mac"], sign(key, body))
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            raise IntegrityError(f"the audit anchor {path} is damaged or was not signed with this key")
        return anchor

    def write_anchor(self, log: Path, key: bytes, length: int, last_hash: str) -> None:
        path = self.anchor_file(log)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        log_name = str(Path(log).resolve())
        anchor = {"log": log_name, "length": length, "last_hash": last_hash,
                  "mac": sign(key, _anchor_body(log_name, length, last_hash))}
        atomic_write(path, (json.dumps(anchor, sort_keys=True) + "\n").encode())


def _anchor_body(log: str, length: int, last_hash: str) -> dict[str, Any]:
    return {"log": log, "length": length, "last_hash": last_hash}


def sign(key: bytes, body: dict[str, Any]) -> str:
    """HMAC-SHA256 of the canonical JSON of ``body``."""
    return hmac.new(key, json.dumps(body, sort_keys=True, separators=(",", ":")).encode(), hashlib.sha256).hexdigest()
