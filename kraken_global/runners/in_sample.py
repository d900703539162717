"""A model backtested over its own training window: which part is in sample, and the figures of the rest.

``backtest --model approved`` on the default data runs about 70% of its bars over the window the model was
trained on (up to ``training_window.train_end`` plus the embargo, where the gates' out-of-sample windows begin).
Figures over those bars flatter the model, so the run marks them (``equity.csv``'s ``in_sample`` column,
``metrics.json``'s ``model.in_sample``, the plot) and reports the out-of-sample part on its own
(``metrics.json``'s ``out_of_sample``, a column of the summary table, a line saying so).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kraken_global import metrics


def in_sample_end(manifest: dict[str, Any], timeframe: pd.Timedelta) -> pd.Timestamp:
    """The close time of the model's last in-sample bar: training end plus the embargo (candles stamped by start,
    so the last training candle closes one bar later)."""
    window = manifest["training_window"]
    embargo = int(window.get("embargo_bars", 0)) * timeframe
    return pd.Timestamp(window["train_end"]) + embargo


def mark_in_sample(metrics_: dict[str, Any], equity: pd.DataFrame, manifest: dict[str, Any],
                   timeframe: pd.Timedelta) -> None:
    """Add ``in_sample`` to ``equity`` and the in-sample window and out-of-sample figures to ``metrics_``."""
    end = in_sample_end(manifest, timeframe)
    inside = equity.index <= end
    equity["in_sample"] = inside
    window = manifest["training_window"]
    count = int(inside.sum())
    metrics_["model"]["in_sample"] = {
        "trained_from": window.get("first_bar"), "trained_to": window.get("train_end"),
        "embargo_bars": window.get("embargo_bars", 0), "last_in_sample_bar": str(end), "bars": count,
        "share_pct": 100.0 * count / len(equity) if len(equity) else 0.0}
    outside = equity.loc[~inside, "value"]
    if outside.empty:
        metrics_["out_of_sample"] = None
        return
    before = equity.loc[inside, "value"]
    start_value = float(before.iloc[-1]) if len(before) else metrics_["performance"]["start_value"]
    metrics_["out_of_sample"] = {"first_bar": str(outside.index[0]),
                                 **metrics.value_figures(outside.index, outside.to_numpy(), start_value, timeframe)}
