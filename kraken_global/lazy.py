"""Package names imported on first use (PEP 562), so the CLI's quick commands do not pay for pandas, backtrader or
sklearn that a package's heavier modules need."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``exports`` maps a name to the submodule defining it; the value is
    imported on first use and kept in ``namespace`` (the package's ``globals()``). Any other name is tried as a
    submodule (``kraken_global.feeds.sources``), as eager imports allowed."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        namespace[name] = value
        return value

    return __getattr__
