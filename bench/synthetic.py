"""Seeded synthetic candles for benchmarks (the speed and memory of a run do not depend on real prices)."""

from __future__ import annotations

import numpy as np
import pandas as pd

PRICES = {"BTC/USD": 30_000.0, "ETH/USD": 2_000.0, "SOL/USD": 100.0, "XRP/USD": 0.5, "ADA/USD": 0.4, "DOT/USD": 6.0,
          "LINK/USD": 15.0, "DOGE/USD": 0.08, "POL/USD": 0.7, "AVAX/USD": 20.0}  # about their 2023 levels
UNIVERSE = tuple(PRICES)


def random_walk(bars: int, freq: str, seed: int, start: str = "2023-01-01", price: float = 100.0,
                step: float = 2e-3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0, step, bars)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, step / 2, bars)) * close
    index = pd.date_range(start, periods=bars, freq=freq, name="datetime")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + spread,
                         "low": np.minimum(open_, close) - spread, "close": close,
                         "volume": rng.gamma(2.0, 0.5, bars) * 1e6 / price}, index=index)  # ~1M USD a bar


def universe(bars: int, freq: str) -> dict[str, pd.DataFrame]:
    return {symbol: random_walk(bars, freq, seed=i, price=price) for i, (symbol, price) in enumerate(PRICES.items())}
