"""Seeded synthetic candles for benchmarks (the speed and memory of a run do not depend on real prices)."""

from __future__ import annotations

import numpy as np
import pandas as pd

UNIVERSE = ("BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD", "ADA/USD", "DOT/USD", "LINK/USD", "DOGE/USD", "POL/USD",
            "AVAX/USD")


def random_walk(bars: int, freq: str, seed: int, start: str = "2023-01-01", price: float = 100.0,
                step: float = 5e-3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0, step, bars)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, step / 2, bars)) * close
    index = pd.date_range(start, periods=bars, freq=freq, name="datetime")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + spread,
                         "low": np.minimum(open_, close) - spread, "close": close,
                         "volume": rng.gamma(2.0, 50.0, bars)}, index=index)


def universe(bars: int, freq: str) -> dict[str, pd.DataFrame]:
    return {symbol: random_walk(bars, freq, seed=i, price=10.0 ** (i % 4 + 1))
            for i, symbol in enumerate(UNIVERSE)}
