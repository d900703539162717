"""One gate per metric, each with its value, threshold and shortfall, and a line a person can read.

A single "oos_metrics" flag over three metrics, with a detail like "Sharpe 0.435 (>= 0.5)", reads like a pass when
it is a failure. Here each metric is its own check and says which way it failed and by how much.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from kraken_global import metrics
from kraken_global.ml import stats


@dataclass(frozen=True)
class MetricCheck:
    """``value`` against ``threshold``; ``rule`` ">=" (a minimum) or "<=" (a maximum)."""

    name: str
    label: str
    value: float
    threshold: float
    rule: Literal[">=", "<="]
    unit: str = ""

    @property
    def passed(self) -> bool:
        if not math.isfinite(self.value):
            return False
        return self.value >= self.threshold if self.rule == ">=" else self.value <= self.threshold

    @property
    def shortfall(self) -> float:
        """How far the value is on the wrong side of the threshold (0 when it passes)."""
        if self.passed:
            return 0.0
        if not math.isfinite(self.value):
            return math.inf
        return self.threshold - self.value if self.rule == ">=" else self.value - self.threshold

    def explain(self) -> str:
        kind = "minimum" if self.rule == ">=" else "maximum"
        value = f"{self.value:.3f}{self.unit}"
        if self.passed:
            return f"{self.label} {value}: pass ({kind} {self.threshold:g}{self.unit})"
        side = "below the minimum" if self.rule == ">=" else "above the maximum"
        return f"{self.label} {value}: FAIL, {side} {self.threshold:g}{self.unit} by {self.shortfall:.3f}{self.unit}"

    def as_gate(self, **extra: Any) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.explain(), "value": self.value,
                "threshold": self.threshold, "rule": self.rule, "shortfall": self.shortfall, **extra}


def track_record_needed(daily: Any, min_sharpe: float, confidence: float = 0.95) -> dict[str, Any]:
    """How many days of out-of-sample data it takes to be ``confidence`` sure the true Sharpe is above the
    threshold (the minimum track record length against ``min_sharpe``, not against 0), set beside the days
    available."""
    sr, n, skewness, kurt = stats.moments(daily)
    benchmark = min_sharpe / math.sqrt(metrics.PERIODS_PER_YEAR)
    needed = stats.min_track_record_length(sr, skewness, kurt, benchmark=benchmark, confidence=confidence)
    if not math.isfinite(needed):
        text = (f"the Sharpe {sr * math.sqrt(metrics.PERIODS_PER_YEAR):.2f} is not above the threshold "
                f"{min_sharpe:g}: no length of out-of-sample data would make it significant")
        more = None
    else:
        needed_days = math.ceil(needed)
        more = max(0, needed_days - n)
        text = (f"{needed_days} days of out-of-sample data make the Sharpe significant against {min_sharpe:g} at "
                f"{confidence:.0%}; {n} are available" +
                (f": about {more} more days needed" if more else ": enough"))
    return {"min_track_record_days": None if not math.isfinite(needed) else float(needed), "days_available": n,
            "more_days_needed": more, "against_sharpe": min_sharpe, "confidence": confidence, "detail": text}
