"""Walk-forward optimization, the math: windows, the choice in each, the stitched out-of-sample result, stability.

The period is cut into windows. In each, every point of the grid is scored in sample by the declared objective,
the best is chosen and then traded out of sample on the next days. Stitching the out-of-sample legs gives the
honest result: each day of it was traded by a choice made without seeing that day. It is reported beside the
in-sample best (the row a user would have picked from the whole sweep, on the same days) and buy-and-hold.

- **Rolling** windows: in sample ``[s, s + in_sample_days)``, out of sample the next ``out_of_sample_days``; the
  next window starts ``out_of_sample_days`` later, so the out-of-sample legs tile the period after the first
  in-sample window without overlap. **Anchored** windows all start in sample at the first day.
- The last out-of-sample leg ends with the period; a last leg shorter than half of ``out_of_sample_days`` is
  dropped (a few days say nothing).
- **Stability** of the choices: the share of windows (after the first) that kept the previous window's point,
  the number of distinct points chosen, and for each key how often its chosen value changed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from kraken_global.errors import InsufficientEvidence
from kraken_global.research.objectives import score_columns


@dataclass(frozen=True)
class Window:
    """One walk-forward step: in sample ``[in_sample_start, in_sample_end)``, out of sample
    ``[in_sample_end, out_of_sample_end)`` (days, end exclusive)."""

    in_sample_start: date
    in_sample_end: date
    out_of_sample_end: date

    @property
    def out_of_sample_last_day(self) -> date:
        return self.out_of_sample_end - timedelta(days=1)

    def to_dict(self) -> dict[str, str]:
        return {"in_sample_period": f"{self.in_sample_start} .. {self.in_sample_end - timedelta(days=1)}",
                "out_of_sample_period": f"{self.in_sample_end} .. {self.out_of_sample_last_day}"}


def walk_forward_windows(first_day: date, last_day: date, in_sample_days: int, out_of_sample_days: int,
                         anchored: bool = False) -> list[Window]:
    """The windows over ``[first_day, last_day]`` (both inclusive)."""
    end = last_day + timedelta(days=1)
    windows = []
    in_sample_end = first_day + timedelta(days=in_sample_days)
    while (end - in_sample_end).days * 2 >= out_of_sample_days:
        start = first_day if anchored else in_sample_end - timedelta(days=in_sample_days)
        windows.append(Window(start, in_sample_end, min(in_sample_end + timedelta(days=out_of_sample_days), end)))
        in_sample_end += timedelta(days=out_of_sample_days)
    if not windows:
        days = (end - first_day).days
        raise InsufficientEvidence(f"a walk-forward of {in_sample_days} in-sample and {out_of_sample_days} "
                                   f"out-of-sample days needs at least {in_sample_days + out_of_sample_days // 2 + 1}"
                                   f" days, the period {first_day} .. {last_day} has {days}: use a longer period "
                                   "or shorter windows (research.in_sample_days, research.out_of_sample_days)")
    return windows


def choose(scores: Sequence[float]) -> int:
    """The index of the best score (the first of equal ones)."""
    return int(np.argmax(np.asarray(scores, dtype=float)))


def choose_in_sample(days: pd.DatetimeIndex, matrix: np.ndarray, windows: Sequence[Window],
                     objective: str) -> tuple[list[int], list[float]]:
    """For each window, the column (point) of ``matrix`` (days x points) with the best ``objective`` over the
    window's in-sample days, and that score. Only in-sample rows are read: the choice cannot see its future."""
    columns, scores = [], []
    for window in windows:
        rows = (days >= pd.Timestamp(window.in_sample_start)) & (days < pd.Timestamp(window.in_sample_end))
        in_sample = score_columns(matrix[rows], objective)
        best = choose(in_sample)
        columns.append(best)
        scores.append(float(in_sample[best]))
    return columns, scores


def stability(choices: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How steady the chosen points were across windows."""
    kept = [a == b for a, b in itertools.pairwise(choices)]
    keys = list(choices[0]) if choices else []
    return {
        "windows": len(choices),
        "kept_share": float(np.mean(kept)) if kept else None,
        "distinct_points": len({tuple(sorted((k, str(v)) for k, v in c.items())) for c in choices}),
        "changes_per_key": {key: sum(a[key] != b[key] for a, b in itertools.pairwise(choices))
                            for key in keys},
    }


@dataclass(frozen=True)
class WindowChoice:
    """What one window chose and how the choice did."""

    window: Window
    point: int
    overrides: dict[str, Any]
    in_sample_score: float
    out_of_sample: dict[str, Any]  # figures of the leg (return, Sharpe, drawdown, days)

    def to_dict(self) -> dict[str, Any]:
        return {**self.window.to_dict(), "point": self.point, "overrides": self.overrides,
                "in_sample_score": self.in_sample_score, "out_of_sample": self.out_of_sample}


@dataclass(frozen=True)
class WalkForwardResult:
    """The walk-forward's figures as plain data (``to_dict`` for JSON), for reports and gates alike."""

    objective: str
    anchored: bool
    in_sample_days: int
    out_of_sample_days: int
    windows: tuple[WindowChoice, ...]
    stitched: dict[str, Any]  # the out-of-sample legs joined: return, Sharpe, drawdown, days
    in_sample_best: dict[str, Any]  # the whole sweep's best point: on the whole period and on the stitched days
    buy_and_hold: dict[str, Any] | None
    stability: dict[str, Any]
    pbo: dict[str, Any]
    monte_carlo: dict[str, Any]
    cost_stress: dict[str, Any]
    best_row_statistics: dict[str, Any]  # PSR and DSR of the in-sample best over the trial ledger
    # per out-of-sample day: the window, the walk-forward's, the in-sample best's and buy-and-hold's returns
    daily: pd.DataFrame = field(compare=False, repr=False, default_factory=pd.DataFrame)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "daily"}
        data["windows"] = [w.to_dict() for w in self.windows]
        return data
