"""Runners: assemble cerebro for a mode (backtest, paper, live), operate sessions and report the results.

The names below are imported on first use (PEP 562), so ``kraken-global status`` does not load backtrader.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"BacktestResult": "backtest", "build_cerebro": "backtest", "run_backtest": "backtest"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        try:  # a submodule reached as an attribute (``kraken_global.feeds.sources``), as the eager imports allowed
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
