"""Champion/challenger: does the candidate beat the system without it, on the same days?

A candidate's own Sharpe mostly measures the market of its out-of-sample windows: in a bull market the regime
system earns with or without a model. The question a gate must answer is whether the model *adds* something, so
the candidate is judged on the difference of its daily returns and a rival's (the same regime system without a
model, or with the model approved now), day by day over the same windows.

The test is the Probabilistic Sharpe Ratio of that difference against a margin (Bailey & Lopez de Prado): the
probability that the true Sharpe of the daily difference exceeds ``margin`` (annualized), allowing for the
skewness and fat tails of the difference. The candidate passes a comparison when that probability is at least the
policy's ``confidence``. A block-bootstrap interval of the mean daily difference is reported beside it (seeded,
so the report is reproducible) as a second, distribution-free view; it informs, the PSR decides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kraken_global import metrics
from kraken_global.ml import stats
from kraken_global.research.monte_carlo import moving_block_indices

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 20190402


@dataclass(frozen=True)
class Comparison:
    """The candidate against one rival over the same days."""

    rival: str
    days: int
    candidate_sharpe: float
    rival_sharpe: float
    candidate_return_pct: float
    rival_return_pct: float
    edge_sharpe: float  # annualized Sharpe of the daily difference
    edge_mean_bps: float  # mean daily difference, basis points
    edge_probability: float  # PSR of the difference against the margin
    bootstrap_low_bps: float  # 5% quantile of the block-bootstrap mean daily difference
    bootstrap_high_bps: float  # 95% quantile
    margin_sharpe: float
    confidence: float
    identical: bool  # the two return series are the same: the model changed nothing

    @property
    def passed(self) -> bool:
        return not self.identical and self.edge_probability >= self.confidence

    def explain(self) -> str:
        """One line a person reads: which comparison, passed or failed, by how much."""
        head = f"candidate vs {self.rival}"
        if self.identical:
            return (f"{head}: FAIL - the candidate traded exactly as {self.rival} on all {self.days} days "
                    "(the model changed no decision)")
        verdict = "pass" if self.passed else "FAIL"
        shortfall = "" if self.passed else f", short by {self.confidence - self.edge_probability:.3f}"
        return (f"{head}: {verdict} - P(edge Sharpe > {self.margin_sharpe:g}) = {self.edge_probability:.3f} "
                f"(needs >= {self.confidence:g}{shortfall}); Sharpe {self.candidate_sharpe:.2f} vs "
                f"{self.rival_sharpe:.2f}, edge {self.edge_mean_bps:+.2f} bps/day "
                f"(90% interval {self.bootstrap_low_bps:+.2f} to {self.bootstrap_high_bps:+.2f}) over {self.days} days")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed, "detail": self.explain()}


def block_bootstrap_mean(diff: np.ndarray, block: int, samples: int = BOOTSTRAP_SAMPLES,
                         seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """5% and 95% quantiles of the mean of ``diff`` under a moving-block bootstrap (blocks keep the days'
    serial dependence). Deterministic for a given seed."""
    if diff.size == 0:
        return 0.0, 0.0
    means = diff[moving_block_indices(diff.size, block, samples, np.random.default_rng(seed))].mean(axis=1)
    return float(np.quantile(means, 0.05)), float(np.quantile(means, 0.95))


def compare(candidate: Sequence[float], rival: Sequence[float], rival_name: str, margin_sharpe: float,
            confidence: float) -> Comparison:
    """Compare two daily return series of the same days (same length, same order)."""
    c = np.asarray(candidate, dtype=float)
    r = np.asarray(rival, dtype=float)
    if c.shape != r.shape:
        raise ValueError(f"candidate has {c.size} daily returns but {rival_name} has {r.size}: not the same days")
    diff = c - r
    identical = bool(np.allclose(diff, 0.0, atol=1e-12))
    sr, n, skewness, kurt = stats.moments(diff)
    daily_margin = margin_sharpe / math.sqrt(metrics.PERIODS_PER_YEAR)
    probability = 0.0 if identical else stats.probabilistic_sharpe(sr, n, skewness, kurt, daily_margin)
    low, high = block_bootstrap_mean(diff, block=max(1, round(n ** (1 / 3))))
    return Comparison(
        rival=rival_name, days=int(n),
        candidate_sharpe=metrics.sharpe_ratio(c), rival_sharpe=metrics.sharpe_ratio(r),
        candidate_return_pct=_compound_pct(c), rival_return_pct=_compound_pct(r),
        edge_sharpe=metrics.sharpe_ratio(diff), edge_mean_bps=float(diff.mean() * 1e4) if n else 0.0,
        edge_probability=float(probability), bootstrap_low_bps=low * 1e4, bootstrap_high_bps=high * 1e4,
        margin_sharpe=float(margin_sharpe), confidence=float(confidence), identical=identical)


def _compound_pct(returns: np.ndarray) -> float:
    return float((np.prod(1.0 + returns) - 1.0) * 100.0) if returns.size else 0.0
