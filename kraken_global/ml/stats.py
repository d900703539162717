"""How much a Sharpe ratio can be trusted (Bailey & Lopez de Prado).

All Sharpe ratios here are per period (daily, not annualized), from ``n`` returns with skewness ``skew`` and
(non-excess) kurtosis ``kurt``:

- Probabilistic Sharpe Ratio: ``PSR(SR*) = Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - skew SR + (kurt - 1) / 4 SR^2))``,
  the probability that the true Sharpe exceeds ``SR*`` (Bailey & Lopez de Prado, 2012).
- Deflated Sharpe Ratio: the PSR against the Sharpe expected from the best of ``N`` unskilled trials,
  ``SR0 = sqrt(V) ((1 - g) Z^-1(1 - 1/N) + g Z^-1(1 - 1/(N e)))``, ``g`` the Euler-Mascheroni constant and ``V`` the
  variance of the trials' Sharpe ratios (Bailey & Lopez de Prado, 2014).
- Minimum track record length: the ``n`` at which PSR(SR*) reaches ``confidence``:
  ``1 + (1 - skew SR + (kurt - 1) / 4 SR^2) (Z^-1(confidence) / (SR - SR*))^2``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import kurtosis, norm, skew

EULER_GAMMA = 0.5772156649015329


def moments(returns: Sequence[float]) -> tuple[float, int, float, float]:
    """(per-period Sharpe, n, skewness, non-excess kurtosis) of ``returns``."""
    r = np.asarray(returns, dtype=float)
    std = r.std(ddof=1) if r.size > 1 else 0.0
    sr = float(r.mean() / std) if std > 0 else 0.0
    return sr, int(r.size), float(skew(r, bias=False)) if r.size > 2 else 0.0, \
        float(kurtosis(r, fisher=False, bias=False)) if r.size > 3 else 3.0


def _denominator(sr: float, skewness: float, kurt: float) -> float:
    return math.sqrt(max(1e-12, 1 - skewness * sr + (kurt - 1) / 4 * sr * sr))


def probabilistic_sharpe(sr: float, n: int, skewness: float, kurt: float, benchmark: float = 0.0) -> float:
    if n < 2:
        return 0.0
    return float(norm.cdf((sr - benchmark) * math.sqrt(n - 1) / _denominator(sr, skewness, kurt)))


def expected_max_sharpe(trials: int, variance: float) -> float:
    """SR0: the Sharpe expected from the best of ``trials`` unskilled strategies."""
    if trials < 2:
        return 0.0
    return math.sqrt(variance) * ((1 - EULER_GAMMA) * norm.ppf(1 - 1 / trials)
                                  + EULER_GAMMA * norm.ppf(1 - 1 / (trials * math.e)))


def deflated_sharpe(sr: float, n: int, skewness: float, kurt: float, trials: int, variance: float) -> float:
    return probabilistic_sharpe(sr, n, skewness, kurt, expected_max_sharpe(trials, variance))


def min_track_record_length(sr: float, skewness: float, kurt: float, benchmark: float = 0.0,
                            confidence: float = 0.95) -> float:
    if sr <= benchmark:
        return math.inf
    return 1 + _denominator(sr, skewness, kurt) ** 2 * (norm.ppf(confidence) / (sr - benchmark)) ** 2
