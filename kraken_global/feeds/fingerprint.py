"""A fingerprint of candles: enough to tell later whether candles rebuilt or re-read are exactly these."""

from __future__ import annotations

import hashlib

import pandas as pd

OHLCV = ("open", "high", "low", "close", "volume")


def candles_fingerprint(candles: pd.DataFrame) -> dict:
    """First and last candle start, count and SHA256 of the OHLCV values (float64 bytes) of ``candles``."""
    if candles.empty:
        return {"first": None, "last": None, "bars": 0, "sha256": None}
    values = candles[list(OHLCV)].to_numpy(dtype="float64")
    return {"first": str(candles.index[0]), "last": str(candles.index[-1]), "bars": len(candles),
            "sha256": hashlib.sha256(values.tobytes()).hexdigest()}
