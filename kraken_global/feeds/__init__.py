"""Market data: readers for Kraken's export formats, validation, resampling and backtrader feeds."""

from kraken_global.feeds.candles import resample_candles, trades_to_candles
from kraken_global.feeds.numpy_feed import NumpyFeed
from kraken_global.feeds.sources import UniverseData, bundled_data_dir, load_candles, load_universe
from kraken_global.feeds.timeframes import parse_timeframe, timeframe_name
from kraken_global.feeds.validation import GapPolicy

__all__ = [
    "GapPolicy", "NumpyFeed", "UniverseData", "bundled_data_dir", "load_candles", "load_universe",
    "parse_timeframe", "resample_candles", "timeframe_name", "trades_to_candles",
]
