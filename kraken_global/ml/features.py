"""Features from candles, each using only the bar it is stamped at and earlier ones (trailing windows).

The schema (names, dtypes, order) is part of every model's manifest; the schema gate compares it with
:data:`FEATURE_SCHEMA`, so a model trained on other features can never be fed these.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES: tuple[str, ...] = (
    "ret_1", "ret_6", "ret_24", "ret_72", "vol_24", "vol_168", "gap_sma_48", "gap_sma_240", "range_24",
    "volume_z_168", "rsi_14",
)
FEATURE_SCHEMA: list[dict[str, str]] = [{"name": name, "dtype": "float64"} for name in FEATURES]


def compute_features(candles: pd.DataFrame) -> pd.DataFrame:
    """Feature rows for every bar of ``candles`` (NaN until a window is full). Row t uses rows <= t only."""
    close = candles["close"].astype(float)
    log_close = np.log(close)
    ret1 = log_close.diff()
    out = pd.DataFrame(index=candles.index)
    for k in (1, 6, 24, 72):
        out[f"ret_{k}"] = log_close - log_close.shift(k)
    out["vol_24"] = ret1.rolling(24).std()
    out["vol_168"] = ret1.rolling(168).std()
    out["gap_sma_48"] = close / close.rolling(48).mean() - 1
    out["gap_sma_240"] = close / close.rolling(240).mean() - 1
    out["range_24"] = (candles["high"].rolling(24).max() - candles["low"].rolling(24).min()) / close
    volume = candles["volume"].astype(float)
    std = volume.rolling(168).std()
    out["volume_z_168"] = ((volume - volume.rolling(168).mean()) / std.where(std > 0)).fillna(0.0)
    gains = ret1.clip(lower=0).rolling(14).mean()
    losses = (-ret1.clip(upper=0)).rolling(14).mean()
    out["rsi_14"] = 100 * gains / (gains + losses).where(gains + losses > 0)
    return out[list(FEATURES)].astype("float64")


def forward_label(candles: pd.DataFrame, horizon: int) -> pd.Series:
    """1 when the log return over the next ``horizon`` bars is positive, else 0; NaN where the future is
    unknown. A label looks ahead by definition, which is why training purges ``horizon`` rows before any
    evaluation window."""
    close = np.log(candles["close"].astype(float))
    future = close.shift(-horizon) - close
    return (future > 0).astype("float64").where(future.notna())
