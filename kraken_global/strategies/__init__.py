"""Trading strategies, each a ``bt.Strategy`` usable alone with ``cerebro.addstrategy``."""

from kraken_global.strategies.base import KrakenStrategy
from kraken_global.strategies.baseline import SmaTrendBaseline

STRATEGIES = {"baseline": SmaTrendBaseline}

__all__ = ["STRATEGIES", "KrakenStrategy", "SmaTrendBaseline"]
