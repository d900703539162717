"""One artifact root per system namespace, and a guard that keeps every path inside it.

Layout under ``<base>/<namespace>/``: ``candidates/<id>/model.skops`` and ``manifest.json``,
``validations/<id>.json``, ``state.json`` (approved pointer and history), ``audit.jsonl``, ``registry.lock``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from kraken_global.registry.errors import PathEscapeError

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
        return candidate

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


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all-or-nothing: temp file, fsync, rename, fsync of the folder."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
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
