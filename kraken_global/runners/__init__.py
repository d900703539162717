"""Runners: assemble cerebro for a mode (backtest, paper, live), operate sessions and report the results.

The names below are imported on first use (PEP 562), so ``kraken-global status`` does not load backtrader.
"""

from __future__ import annotations

from kraken_global.lazy import lazy_exports

_EXPORTS = {"BacktestResult": "backtest", "build_cerebro": "backtest", "run_backtest": "backtest"}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
