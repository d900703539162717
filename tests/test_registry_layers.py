"""The registry's modules import one way: the store at the bottom, shadow days and verification above it, and the
``ModelRegistry`` the commands use on top (a circle made every change to one of them a change to all three)."""

from __future__ import annotations

import ast
from pathlib import Path

import kraken_global.registry as registry_package

FOLDER = Path(registry_package.__file__).parent
LAYERS = {  # module -> registry modules it may import (at any depth, lazily or not, type-checking included)
    "store": {"approvals", "audit", "crash", "errors", "keys", "paths", "shelf", "serialization"},
    "shelf": {"approvals", "audit", "errors", "paths", "serialization", "model_check"},
    "shadow": {"errors", "paths", "sessions", "store"},
    "verification": {"approvals", "configurations", "errors", "paths", "store"},
    "configurations": {"approvals", "crash", "errors", "paths", "store"},
    "sessions": {"approvals", "errors", "keys", "paths", "store"},
    "model_registry": {"shadow", "store", "verification"},
}


def registry_imports(module: str) -> set[str]:
    tree = ast.parse((FOLDER / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kraken_global.registry."):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("kraken_global.registry.")}
    return found


def test_each_registry_module_imports_only_the_layers_below_it():
    for module, allowed in LAYERS.items():
        extra = registry_imports(module) - allowed
        assert not extra, f"registry/{module}.py imports {sorted(extra)}, above it"


def test_no_registry_module_imports_one_that_imports_it():
    modules = [p.stem for p in FOLDER.glob("*.py") if p.stem != "__init__"]
    graph = {m: registry_imports(m) & set(modules) for m in modules}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt}))
                   for nxt in graph[start])

    circles = sorted(m for m in modules if reaches(m, m, {m}))
    assert not circles, f"registry modules in an import circle: {circles}"
