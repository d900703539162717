"""Does a result rest on a few days? Concentration of P&L and the Sharpe without the best day.

A gate Sharpe that one lucky day carries is not evidence of skill: on the bundled data a +10% day (2019-04-02)
turned a negative gated Sharpe positive. These figures make that visible, and the policy can require the Sharpe
to clear its threshold without the best day.

P&L shares are of the sum of daily returns (additive, so shares of days add up); when that sum is not positive
a share has no meaning and is reported as ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kraken_global import metrics


def robustness(daily: Sequence[float], days: Sequence[str] | None = None) -> dict[str, Any]:
    r = np.asarray(daily, dtype=float)
    if r.size == 0:
        return {"best_day": None, "best_day_return_pct": None, "best_day_share": None, "best_5_days_share": None,
                "sharpe_without_best_day": 0.0, "sharpe": 0.0}
    order = np.argsort(-r, kind="stable")
    total = float(r.sum())
    best = int(order[0])
    share = (lambda part: float(part / total)) if total > 0 else (lambda part: None)
    return {
        "best_day": days[best] if days is not None else best,
        "best_day_return_pct": float(r[best] * 100.0),
        "best_day_share": share(float(r[best])),
        "best_5_days_share": share(float(r[order[:5]].sum())),
        "sharpe": metrics.sharpe_ratio(r),
        "sharpe_without_best_day": metrics.sharpe_ratio(np.delete(r, best)),
    }
