"""How much of a result is the order the days happened to come in: a seeded moving-block bootstrap.

A backtest is one path. Resampling its daily returns in blocks of consecutive days (so a volatile week stays a
volatile week) gives many paths the same strategy could as well have had, and the spread of their total return,
Sharpe and max drawdown is the honest width of the result. The bootstrap is seeded: the same returns, seed,
samples and block give the same figures, bit for bit.

Each path is as long as the original: ``ceil(n / block)`` blocks, each starting at a uniformly drawn day among
the ``n - block + 1`` possible starts, joined and cut to ``n`` days. Max drawdown is taken on the path's daily
values (a backtest's own figure is bar by bar, so it can be deeper). The default block is ``round(n ** (1/3))``
days, the usual rate for a moving-block bootstrap of a mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kraken_global.errors import InsufficientEvidence
from kraken_global.metrics import PERIODS_PER_YEAR

DEFAULT_SAMPLES = 2000
DEFAULT_SEED = 20170701  # the first day of the bundled data; any fixed number would do
MIN_DAYS = 20
QUANTILES = (0.05, 0.5, 0.95)


def default_block(days: int) -> int:
    return max(1, round(days ** (1 / 3)))


def moving_block_indices(days: int, block: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """``samples`` x ``days`` indices into a series of ``days`` values: each row joins blocks of ``block``
    consecutive indices, each starting at a uniform draw, cut to ``days``."""
    block = max(1, min(block, days))
    blocks = math.ceil(days / block)
    starts = rng.integers(0, days - block + 1, size=(samples, blocks))
    return (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(samples, -1)[:, :days]


@dataclass(frozen=True)
class MonteCarloResult:
    """5%, 50% and 95% quantiles over the resampled paths, and how they were drawn."""

    total_return_pct: dict[str, float]
    sharpe: dict[str, float]
    max_drawdown_pct: dict[str, float]
    probability_of_loss: float  # share of paths that end below their start
    days: int
    samples: int
    block_days: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        r, s, d = self.total_return_pct, self.sharpe, self.max_drawdown_pct
        return (f"Monte Carlo ({self.samples} paths, {self.block_days}-day blocks, seed {self.seed}): return "
                f"{r['5%']:+.1f}% / {r['50%']:+.1f}% / {r['95%']:+.1f}%, Sharpe {s['5%']:.2f} / {s['50%']:.2f} / "
                f"{s['95%']:.2f}, max drawdown {d['5%']:.1f}% / {d['50%']:.1f}% / {d['95%']:.1f}% (5/50/95%); "
                f"P(loss) {self.probability_of_loss:.2f}")


def block_bootstrap(daily_returns: Sequence[float], seed: int = DEFAULT_SEED, samples: int = DEFAULT_SAMPLES,
                    block: int | None = None) -> MonteCarloResult:
    """Quantiles of total return, Sharpe and max drawdown over ``samples`` moving-block resamples of the days."""
    returns = np.asarray(daily_returns, dtype=float)
    if returns.size < MIN_DAYS:
        raise InsufficientEvidence(f"a Monte Carlo needs at least {MIN_DAYS} daily returns, the result has "
                                   f"{returns.size}: use a longer period")
    if not np.isfinite(returns).all():
        raise InsufficientEvidence("a Monte Carlo needs finite daily returns: the series holds NaN or infinity")
    if samples < 100:
        raise InsufficientEvidence(f"a Monte Carlo of {samples} paths says little: use at least 100")
    block = default_block(returns.size) if block is None else block
    if not 1 <= block <= returns.size:
        raise InsufficientEvidence(f"block of {block} days: use 1 to {returns.size} (the days available)")
    paths = returns[moving_block_indices(returns.size, block, samples, np.random.default_rng(seed))]
    growth = np.cumprod(1.0 + paths, axis=1)
    totals = (growth[:, -1] - 1.0) * 100.0
    std = paths.std(axis=1, ddof=1)
    sharpes = np.where(std > 1e-15, paths.mean(axis=1) / np.where(std > 1e-15, std, 1.0), 0.0) \
        * math.sqrt(PERIODS_PER_YEAR)
    peaks = np.maximum.accumulate(np.concatenate([np.ones((samples, 1)), growth], axis=1), axis=1)[:, 1:]
    drawdowns = np.max((peaks - growth) / peaks, axis=1) * 100.0
    return MonteCarloResult(total_return_pct=_quantiles(totals), sharpe=_quantiles(sharpes),
                            max_drawdown_pct=_quantiles(drawdowns), probability_of_loss=float(np.mean(totals < 0)),
                            days=int(returns.size), samples=samples, block_days=block, seed=seed)


def _quantiles(values: np.ndarray) -> dict[str, float]:
    return {f"{q:.0%}": float(np.quantile(values, q)) for q in QUANTILES}
