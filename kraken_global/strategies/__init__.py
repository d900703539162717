"""Trading strategies, each a ``bt.Strategy`` usable alone with ``cerebro.addstrategy``.

The six regime strategies (TrendFollower, VolatilitySwing, MeanReversion, DefensiveHedge, StableAllocator,
Recovery) trade toward target weights through :class:`SleeveStrategy`; the regime system runs them together,
each with the capital its regime slot gives it. ``SmaTrendBaseline`` is the benchmark line.
"""

from kraken_global.strategies.base import KrakenStrategy
from kraken_global.strategies.baseline import SmaTrendBaseline
from kraken_global.strategies.defensive import DefensiveHedge
from kraken_global.strategies.mean_reversion import MeanReversion
from kraken_global.strategies.recovery import Recovery
from kraken_global.strategies.sleeve import SleeveStrategy
from kraken_global.strategies.stable import StableAllocator
from kraken_global.strategies.swing import VolatilitySwing
from kraken_global.strategies.trend import TrendFollower

REGIME_STRATEGIES = {cls.__name__: cls for cls in (TrendFollower, VolatilitySwing, MeanReversion, DefensiveHedge,
                                                    StableAllocator, Recovery)}
STRATEGIES = {"baseline": SmaTrendBaseline, **REGIME_STRATEGIES}

__all__ = [
    "REGIME_STRATEGIES", "STRATEGIES", "DefensiveHedge", "KrakenStrategy", "MeanReversion", "Recovery",
    "SleeveStrategy", "SmaTrendBaseline", "StableAllocator", "TrendFollower", "VolatilitySwing",
]
