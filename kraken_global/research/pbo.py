"""The probability of backtest overfitting, by combinatorially symmetric cross-validation (CSCV).

Bailey, Borwein, Lopez de Prado and Zhu, "The Probability of Backtest Overfitting", Journal of Computational
Finance 20(4), 2017 (SSRN 2326253, 2015). Given the daily returns of N configurations over the same T days (a
T x N matrix, one column per sweep point):

1. The rows are cut into S contiguous blocks of ``T // S`` days (S even, default 16). **Rows that do not fill a
   block are dropped from the start**: the oldest ``T mod S`` days (fewer than S) are left out, so the most
   recent data always counts.
2. For each of the C(S, S/2) ways to choose half of the blocks (12,870 for S = 16), the chosen blocks, kept in
   time order, are the in-sample set J and the other half the out-of-sample set J-bar.
3. Each configuration's Sharpe ratio is computed on J and on J-bar; n* is the best in sample (the first of equal
   ones). Its relative rank out of sample is ``w = rank / (N + 1)``, where rank 1 is the worst and equal Sharpes
   share their average rank, and its logit is ``lambda = ln(w / (1 - w))``.
4. **PBO** is the share of combinations with ``lambda <= 0``: the configuration chosen in sample did no better
   than the median out of sample. **The performance degradation** is the least-squares line of the out-of-sample
   Sharpe of n* on its in-sample Sharpe across combinations (a negative slope: the better it looked, the worse it
   did). **The probability of loss** is the share of combinations in which n* has a negative out-of-sample
   Sharpe.

Sharpe ratios are annualized (365 days) from per-day mean and sample standard deviation, as everywhere in the
project; a column without variation has a Sharpe of 0 (a configuration that never traded). PBO means little with
few configurations or short blocks: fewer than :data:`MIN_CONFIGURATIONS` columns or fewer than
:data:`MIN_DAYS_PER_BLOCK` days a block are refused.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kraken_global.errors import InsufficientEvidence
from kraken_global.metrics import PERIODS_PER_YEAR

DEFAULT_SPLITS = 16
MIN_CONFIGURATIONS = 10
MIN_DAYS_PER_BLOCK = 5
MAX_SPLITS = 20  # C(20, 10) = 184,756 combinations; more says nothing new and takes minutes
LOGIT_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_CHUNK = 512  # combinations evaluated at once: bounds memory at about _CHUNK x N x 8 bytes a matrix


@dataclass(frozen=True)
class PboResult:
    """PBO and its companions over ``combinations`` CSCV splits of a ``days`` x ``configurations`` matrix."""

    pbo: float
    degradation_slope: float | None  # OOS Sharpe of n* regressed on its IS Sharpe; None when IS Sharpes never vary
    degradation_intercept: float | None
    probability_of_loss: float
    logit_mean: float
    logit_quantiles: dict[str, float]
    mean_in_sample_sharpe: float  # of n*, across combinations
    mean_out_of_sample_sharpe: float
    configurations: int
    days: int  # rows used (a multiple of splits)
    dropped_days: int  # the oldest rows that did not fill a block
    splits: int
    combinations: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "convention": f"the oldest {self.dropped_days} day(s) that do not fill a block of "
                                              f"{self.days // self.splits} are left out"}

    def summary(self) -> str:
        slope = "n/a" if self.degradation_slope is None else f"{self.degradation_slope:+.2f}"
        return (f"PBO {self.pbo:.2f} over {self.combinations:,} CSCV splits (S={self.splits}, "
                f"{self.configurations} configurations, {self.days} days); degradation slope {slope}; "
                f"P(out-of-sample loss) {self.probability_of_loss:.2f}")


def check_pbo_inputs(configurations: int, days: int, splits: int = DEFAULT_SPLITS) -> None:
    """Refuse, with one line saying what to change, a matrix on which PBO would mean nothing."""
    if splits % 2 or not 2 <= splits <= MAX_SPLITS:
        raise InsufficientEvidence(f"PBO splits {splits}: use an even number from 2 to {MAX_SPLITS} (default "
                                   f"{DEFAULT_SPLITS})")
    if configurations < MIN_CONFIGURATIONS:
        raise InsufficientEvidence(f"PBO needs at least {MIN_CONFIGURATIONS} configurations, the sweep has "
                                   f"{configurations}: give --set more values")
    if days < splits * MIN_DAYS_PER_BLOCK:
        raise InsufficientEvidence(f"PBO with {splits} splits needs at least {splits * MIN_DAYS_PER_BLOCK} days "
                                   f"({MIN_DAYS_PER_BLOCK} a block), the results have {days}: use a longer period "
                                   "or fewer splits")


def pbo(returns: np.ndarray, splits: int = DEFAULT_SPLITS) -> PboResult:
    """PBO of choosing the best in-sample Sharpe among the columns of ``returns`` (days x configurations)."""
    matrix = np.asarray(returns, dtype=float)
    if matrix.ndim != 2:
        raise InsufficientEvidence(f"PBO needs a days x configurations matrix, got {matrix.ndim} dimension(s)")
    days, configurations = matrix.shape
    check_pbo_inputs(configurations, days, splits)
    if not np.isfinite(matrix).all():
        raise InsufficientEvidence("PBO: the returns matrix holds NaN or infinite values (a point with missing days?)")
    size = days // splits
    dropped = days - size * splits
    blocks = matrix[dropped:].reshape(splits, size, configurations)
    block_sums, block_squares = blocks.sum(axis=1), (blocks ** 2).sum(axis=1)
    total_sums, total_squares = block_sums.sum(axis=0), block_squares.sum(axis=0)
    chosen = np.array(list(itertools.combinations(range(splits), splits // 2)))
    half = size * splits // 2
    is_sharpe, oos_sharpe, logits = [], [], []
    for first in range(0, len(chosen), _CHUNK):
        part = chosen[first:first + _CHUNK]
        indicator = np.zeros((len(part), splits))
        indicator[np.arange(len(part))[:, None], part] = 1.0
        sums, squares = indicator @ block_sums, indicator @ block_squares
        inside = _sharpe(sums, squares, half)
        outside = _sharpe(total_sums - sums, total_squares - squares, half)
        best = np.argmax(inside, axis=1)  # the first of equal maxima
        rows = np.arange(len(part))
        best_oos = outside[rows, best]
        below = (outside < best_oos[:, None]).sum(axis=1)
        ties = (outside == best_oos[:, None]).sum(axis=1)  # counts n* itself
        omega = (below + (ties + 1) / 2) / (configurations + 1)
        logits.append(np.log(omega / (1 - omega)))
        is_sharpe.append(inside[rows, best])
        oos_sharpe.append(best_oos)
    logit, r_is, r_oos = np.concatenate(logits), np.concatenate(is_sharpe), np.concatenate(oos_sharpe)
    slope, intercept = _least_squares(r_is, r_oos)
    return PboResult(
        pbo=float(np.mean(logit <= 0)), degradation_slope=slope, degradation_intercept=intercept,
        probability_of_loss=float(np.mean(r_oos < 0)), logit_mean=float(logit.mean()),
        logit_quantiles={f"{q:g}": float(np.quantile(logit, q)) for q in LOGIT_QUANTILES},
        mean_in_sample_sharpe=float(r_is.mean()), mean_out_of_sample_sharpe=float(r_oos.mean()),
        configurations=configurations, days=size * splits, dropped_days=dropped, splits=splits,
        combinations=len(chosen))


def _sharpe(sums: np.ndarray, squares: np.ndarray, count: int) -> np.ndarray:
    """Annualized Sharpe from sums and sums of squares of ``count`` daily returns; 0 without variation."""
    mean = sums / count
    variance = np.maximum(squares - sums * mean, 0.0) / (count - 1)
    flat = variance <= 1e-12 * (squares / count) + 1e-30  # rounding residue of a constant column
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = mean / np.sqrt(variance) * math.sqrt(PERIODS_PER_YEAR)
    return np.where(flat, 0.0, sharpe)


def _least_squares(x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None]:
    spread = x - x.mean()
    denominator = float((spread ** 2).sum())
    if denominator <= 1e-24:
        return None, None
    slope = float((spread * (y - y.mean())).sum() / denominator)
    return slope, float(y.mean() - slope * x.mean())
