"""Joining the candles that paper and live sessions recorded (``data.recorded``) to the local history.

Sessions append every closed candle they receive to ``data.recorded`` (:class:`kraken_global.live.recorder.
CandleRecorder`). Every run that loads data (backtest, train, gates, a session's warm-up) continues each pair's
local candles with the recorded ones, so the downtime retraining and the next session see the market up to the
last session's bar, not only up to the last export.

This module only names and joins; reading a record is :func:`kraken_global.feeds.sources.load_record` (every
source of history lives there), so the dependency goes one way: sources -> recorded.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def record_file(directory: Path, altname: str, timeframe: pd.Timedelta) -> Path:
    """The record of one pair at one timeframe: Kraken's export name, ``<ALTNAME>_<minutes>.csv``."""
    return Path(directory) / f"{altname}_{int(timeframe / pd.Timedelta(minutes=1))}.csv"


def extend_history(local: pd.DataFrame | None, recorded: pd.DataFrame | None, timeframe: pd.Timedelta,
                   max_gap_bars: int) -> tuple[pd.DataFrame | None, str]:
    """Local history continued by the recorded candles, and how: ``"joined"``, ``"local"`` or ``"recorded"``.

    Where both exist, local rows win and the record adds the candles after local's last one; a gap of up to
    ``max_gap_bars`` between them is filled flat with zero volume, as the loaders fill gaps. A longer gap cannot be
    joined (indicators and regime windows would span it): local history stays as it was, and the record is used
    alone only for a pair without local candles. A session whose local history is too old to meet the exchange's
    candles falls back to the record itself (``runners.session.local_history``)."""
    if recorded is None or recorded.empty:
        return local, "local"
    if local is None or local.empty:
        return recorded, "recorded"
    after = recorded[recorded.index > local.index[-1]]
    if after.empty:
        return local, "local"
    if after.index[0] - local.index[-1] > (max_gap_bars + 1) * timeframe:
        return local, "local"
    columns = ["open", "high", "low", "close", "volume"]
    joined = pd.concat([local[columns], after[columns]])
    grid = pd.date_range(joined.index[0], joined.index[-1], freq=timeframe, name="datetime")
    out = joined.reindex(grid)
    filled = int(out["close"].isna().sum())
    close = out["close"].ffill()
    for column in ("open", "high", "low", "close"):
        out[column] = out[column].fillna(close)
    out["volume"] = out["volume"].fillna(0.0)
    out.attrs = {**local.attrs, "timeframe": timeframe,
                 "filled_bars": int(local.attrs.get("filled_bars", 0)) + int(recorded.attrs.get("filled_bars", 0))
                 + filled}
    return out, "joined"
