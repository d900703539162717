"""Where registries are: so ``models list`` can say where it looked and which others exist, without creating one.

A registry namespace is a folder ``<artifacts>/<namespace>/`` holding ``audit.jsonl`` or ``candidates/``. A fresh
clone has none; the README's walkthrough makes ``artifacts-demo/gates-demo``. This reads the file system only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class FoundRegistry:
    artifacts: Path
    namespace: str
    candidates: int
    config: Path | None  # a config under configs/ that points at it, if any

    def options(self) -> str:
        """The command-line options that reach it."""
        if self.config is not None:
            return f"--config {self.config}"
        return f"--artifacts {self.artifacts} --namespace {self.namespace}"


def is_registry(folder: Path) -> bool:
    return folder.is_dir() and ((folder / "audit.jsonl").is_file() or (folder / "candidates").is_dir())


def count_candidates(folder: Path) -> int:
    candidates = folder / "candidates"
    if not candidates.is_dir():
        return 0
    return sum(1 for p in candidates.iterdir() if p.is_dir() and not p.name.startswith("."))


def find_registries(root: Path, configs: Path | None = None) -> list[FoundRegistry]:
    """The namespaces two levels under ``root`` (``<artifacts>/<namespace>``), each with a config of ``configs``
    (default ``root/configs``) that selects it, if there is one."""
    root = Path(root)
    pointers = _config_pointers(configs if configs is not None else root / "configs", root)
    found = []
    for folder in sorted(root.glob("*/*/")):
        if folder.name.startswith(".") or folder.parent.name.startswith(".") or not is_registry(folder):
            continue
        artifacts = folder.parent.relative_to(root)
        found.append(FoundRegistry(artifacts, folder.name, count_candidates(folder),
                                   pointers.get((artifacts, folder.name))))
    return found


def _config_pointers(folder: Path, root: Path) -> dict[tuple[Path, str], Path]:
    """(artifacts, namespace) -> the first config file under ``folder`` that sets them."""
    pointers: dict[tuple[Path, str], Path] = {}
    if not folder.is_dir():
        return pointers
    for path in sorted(folder.glob("*.yaml")):
        try:
            ml = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("ml") or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
            continue
        if isinstance(ml, dict) and ("artifacts" in ml or "namespace" in ml):
            key = (Path(str(ml.get("artifacts", "artifacts"))), str(ml.get("namespace", "kraken_global")))
            pointers.setdefault(key, path.relative_to(root) if path.is_relative_to(root) else path)
    return pointers
