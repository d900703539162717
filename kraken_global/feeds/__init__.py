"""Market data: readers for Kraken's export formats, validation, resampling and backtrader feeds.

The names below are imported on first use (PEP 562): loading a config needs :func:`parse_timeframe` only, and the
CLI's quick commands must not pay for pandas and backtrader.
"""

from __future__ import annotations

from kraken_global.lazy import lazy_exports

_EXPORTS = {
    "resample_candles": "candles", "trades_to_candles": "candles", "NumpyFeed": "numpy_feed",
    "UniverseData": "sources", "bundled_data_dir": "sources", "load_candles": "sources", "load_universe": "sources",
    "parse_timeframe": "timeframes", "timeframe_name": "timeframes", "GapPolicy": "validation",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
