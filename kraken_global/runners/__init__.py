"""Runners: build and run a cerebro over history (a backtest, a parameter sweep) from a config.

Sessions live in :mod:`kraken_global.sessions`, replays in :mod:`kraken_global.replay`, the parts of a cerebro in
:mod:`kraken_global.assembly`. The names below are imported on first use (PEP 562), so quick commands do not load
backtrader.
"""

from __future__ import annotations

from kraken_global.lazy import lazy_exports

_EXPORTS = {"BacktestResult": "backtest", "run_backtest": "backtest"}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
