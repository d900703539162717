"""What "best" means when a point is chosen: an objective computed from daily returns, the same in a sweep's best
row, in every walk-forward window and in the gates that will call them.

- ``sharpe``: the annualized Sharpe ratio (:func:`kraken_global.metrics.sharpe_ratio`);
- ``total_return``: the compounded return in percent.

Among equal scores the first point (in grid order) wins, so a choice never depends on where points ran.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from kraken_global import metrics
from kraken_global.errors import ConfigError


def _total_return_pct(returns: Sequence[float]) -> float:
    r = np.asarray(returns, dtype=float)
    return float((np.prod(1.0 + r) - 1.0) * 100.0)


OBJECTIVES: dict[str, Callable[[Sequence[float]], float]] = {"sharpe": metrics.sharpe_ratio,
                                                              "total_return": _total_return_pct}


def score_columns(matrix: np.ndarray, objective: str) -> np.ndarray:
    """The objective of each column of a days x points matrix."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective {objective!r}: use one of {', '.join(OBJECTIVES)}")
    score = OBJECTIVES[objective]
    return np.array([score(matrix[:, j]) for j in range(matrix.shape[1])])


def best_column(matrix: np.ndarray, objective: str) -> int:
    """The column with the highest objective (the first of equal ones)."""
    return int(np.argmax(score_columns(matrix, objective)))
