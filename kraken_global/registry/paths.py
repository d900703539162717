"""One artifact root per system namespace, and a guard that keeps every path inside it.

Layout under ``<base>/<namespace>/``: ``candidates/<id>/model.skops`` and ``manifest.json``,
``validations/<id>.json``, ``state.json`` (approved pointer and history), ``policy.json`` (the gate policy),
``shadow/<candidate>/<session>/``, ``sessions/<id>.json`` (sessions' signed progress), ``audit.jsonl`` (the keyed
chain, trial ledger included), ``registry.lock``.
The audit key and anchors live elsewhere (:mod:`kraken_global.registry.keys`).
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from kraken_global.registry.errors import IntegrityError, PathEscapeError

NAMESPACE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class ArtifactRoot:
    """The folder of one namespace; :meth:`path` resolves names inside it and refuses anything else."""

    def __init__(self, base: Path, namespace: str = "kraken_global") -> None:
        if not NAMESPACE_PATTERN.match(namespace):
            raise PathEscapeError(f"namespace {namespace!r} is not valid: lowercase letters, digits, - and _")
        self.base = Path(base).resolve()
        self.namespace = namespace
        self.root = self.base / namespace
        if self.root.is_symlink():
            raise PathEscapeError(f"artifact root {self.root} is a symlink; refusing to follow it")

    def ensure(self) -> Path:
        for sub in ("candidates", "validations"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        return self.root

    def path(self, *parts: str) -> Path:
        """``root/part/...``, refusing ``..``, absolute parts, other namespaces and symlinks that lead out."""
        for part in parts:
            if not part or part in (".", "..") or "/" in part or "\\" in part or os.path.isabs(part):
                raise PathEscapeError(f"path part {part!r} is not allowed inside the artifact root")
        candidate = self.root.joinpath(*parts)
        resolved = candidate.resolve()
        root = self.root.resolve()
        if resolved != root and root not in resolved.parents:
            raise PathEscapeError(f"{candidate} resolves to {resolved}, outside the namespace root {root}")
        walked = self.root
        for part in parts:
            walked = walked / part
            if walked.is_symlink():
                raise PathEscapeError(f"{walked} is a symlink: files in the registry must be regular files inside "
                                      "it; replace the link with the file itself")
        return candidate

    def candidate_file(self, candidate_id: str, name: str) -> Path:
        check_id(candidate_id)
        return self.path("candidates", candidate_id, name)

    def candidate_dir(self, candidate_id: str) -> Path:
        check_id(candidate_id)
        return self.path("candidates", candidate_id)

    def validation_file(self, candidate_id: str) -> Path:
        check_id(candidate_id)
        return self.path("validations", f"{candidate_id}.json")


def check_id(candidate_id: str) -> str:
    if not ID_PATTERN.match(candidate_id or "") or ".." in candidate_id:
        raise PathEscapeError(f"candidate id {candidate_id!r} is not valid")
    return candidate_id


def read_regular(path: Path, what: str = "file", max_bytes: int | None = None) -> bytes:
    """The bytes of ``path`` if it is a regular file, refusing a symlink (``O_NOFOLLOW``, no window between the
    check and the read) or anything else (a folder, a FIFO that would block), and one over ``max_bytes`` (checked
    before reading, and the read stops there)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if Path(path).is_symlink():
            raise PathEscapeError(f"{what} {path} is a symlink: files in the registry must be regular files "
                                  "inside it") from None
        raise exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PathEscapeError(f"{what} {path} is not a regular file")
        if max_bytes is not None and info.st_size > max_bytes:
            raise IntegrityError(f"{what} {path} is {info.st_size:,} bytes, over the {max_bytes:,} it may have")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
        if max_bytes is not None and len(data) > max_bytes:
            raise IntegrityError(f"{what} {path} grew over the {max_bytes:,} bytes it may have while it was read")
        return data
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all-or-nothing: temp file, fsync, rename, fsync of the folder.

    The temp file's name (``.NAME.tmp-PID``) can be guessed, and whoever may write the artifacts folder may plant
    it: a symlink there made a plain ``open`` write the report through it, over any file the registry's user may
    write (the audit key in its own folder, say), and a FIFO made it hang. So whatever has that name is removed
    and the temp file is created anew, never following a link (``O_CREAT | O_EXCL | O_NOFOLLOW``): a name planted
    again in between makes the write fail, never write elsewhere."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)  # a leftover of this PID, or a planted symlink or FIFO (a folder: refused below)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_json(data: Any) -> bytes:
    """The bytes the registry writes for a JSON document (reports, state, policy copy)."""
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
