"""backtrader analyzers for performance, risk, costs and benchmarks (definitions in kraken_global.metrics)."""

from kraken_global.analyzers.benchmark import BuyAndHoldBenchmark
from kraken_global.analyzers.performance import (
    MaxDrawdown,
    Returns365,
    SharpeRatio365,
    TailLoss,
    ValueRecorder,
)
from kraken_global.analyzers.progress import Progress
from kraken_global.analyzers.trading import Exposure, FeesPaid, Turnover

STANDARD_ANALYZERS = {
    "returns": Returns365,
    "sharpe": SharpeRatio365,
    "drawdown": MaxDrawdown,
    "tail_loss": TailLoss,
    "turnover": Turnover,
    "fees": FeesPaid,
    "exposure": Exposure,
}

__all__ = [
    "STANDARD_ANALYZERS", "BuyAndHoldBenchmark", "Exposure", "FeesPaid", "MaxDrawdown", "Progress",
    "Returns365", "SharpeRatio365", "TailLoss", "Turnover", "ValueRecorder",
]
