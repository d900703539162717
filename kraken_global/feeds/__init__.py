"""Market data: readers for Kraken's export formats, validation, resampling and backtrader feeds.

The names below are imported on first use (PEP 562): loading a config needs :func:`parse_timeframe` only, and the
CLI's quick commands must not pay for pandas and backtrader.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "resample_candles": "candles", "trades_to_candles": "candles", "NumpyFeed": "numpy_feed",
    "UniverseData": "sources", "bundled_data_dir": "sources", "load_candles": "sources", "load_universe": "sources",
    "parse_timeframe": "timeframes", "timeframe_name": "timeframes", "GapPolicy": "validation",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        try:  # a submodule reached as an attribute (``kraken_global.feeds.sources``), as the eager imports allowed
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
