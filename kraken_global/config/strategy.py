"""How decisions are made: the strategy (or the regime system) and its parameters, the regime thresholds and which
strategies hold a slot in each regime."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kraken_global.config.base import FiniteFloat, Strict

STRATEGY_CHOICES = Literal["regime", "baseline", "TrendFollower", "VolatilitySwing", "MeanReversion",
                           "DefensiveHedge", "StableAllocator", "Recovery"]
Params = dict[str, float | int | bool | str]


# A sleeve's model filter threshold is the model's operating point (``ml.min_probability``, fixed in the model's
# manifest and bound to every run with it), never a strategy parameter: set per sleeve, it replaced the threshold the
# model was gated at (0 switched the model off for that sleeve) in a configuration gated without any model.
_NOT_PARAMETERS = {"schedule": None,
                   "min_probability": "the model's entry threshold is its operating point, ml.min_probability, fixed "
                                      "when it was trained and gated: it cannot be set per strategy"}


def _check_params(strategy: str, params: Params) -> None:
    from kraken_global.strategies import STRATEGIES

    refused = sorted(name for name in params if _NOT_PARAMETERS.get(name))
    if refused:
        raise ValueError(f"{strategy}.{refused[0]}: {_NOT_PARAMETERS[refused[0]]}")
    known = set(STRATEGIES[strategy].params._getkeys()) - set(_NOT_PARAMETERS)
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)} for strategy {strategy!r}; "
                         f"known: {', '.join(sorted(known))}")
    defaults = STRATEGIES[strategy].params
    for name, value in params.items():
        problem = _param_problem(name, getattr(defaults, name), value)
        if problem:
            raise ValueError(f"{strategy}.{name} = {value!r}: {problem}")
    fast = params.get("fast", getattr(defaults, "fast", None))
    slow = params.get("slow", getattr(defaults, "slow", None))
    if fast is not None and slow is not None and fast >= slow:
        raise ValueError(f"{strategy}: fast ({fast}) must be shorter than slow ({slow})")


# parameters that are shares of something: 0..1 (invest_fraction above 0: investing nothing is not a strategy)
_SHARES = {"invest_fraction", "core_fraction", "max_exposure", "min_probability", "rebalance_band", "trend_buffer",
           "step", "stop"}
_SIGNED = {"entry_z", "exit_z", "stop_z"}  # z-scores may be negative


def _param_problem(name: str, default: Any, value: Any) -> str | None:
    """Why ``value`` cannot stand for a parameter whose default is ``default`` (None: it can)."""
    import math

    if isinstance(default, str):
        return None if isinstance(value, str) else "must be text"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    if isinstance(default, int) and not isinstance(default, bool):
        if not isinstance(value, int):
            return "must be a whole number of bars (or a count)"
        return None if value >= 1 else "must be at least 1"
    if not math.isfinite(value):
        return "must be a finite number"
    if name in _SHARES:
        low_ok = value > 0 if name == "invest_fraction" else value >= 0
        return None if low_ok and value <= 1 else "must be a share between 0 and 1"
    if name not in _SIGNED and value < 0:
        return "must not be negative"
    if name in ("stop_atr", "target_vol") and value == 0:
        return "must be above 0"
    return None


class StrategyConfig(Strict):
    """``regime`` runs the six strategies selected by regime; any other name runs that one strategy alone."""

    name: STRATEGY_CHOICES = "regime"
    params: Params = Field(default_factory=dict)
    per_strategy: dict[str, Params] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_params(self) -> StrategyConfig:
        from kraken_global.selection import STRATEGY_NAMES

        if self.name == "regime" and self.params:
            raise ValueError("params apply to a single strategy; for the regime system use per_strategy")
        if self.name != "regime":
            _check_params(self.name, self.params)
        for strategy, params in self.per_strategy.items():
            if strategy not in STRATEGY_NAMES:
                raise ValueError(f"per_strategy: unknown strategy {strategy!r}; known: {', '.join(STRATEGY_NAMES)}")
            _check_params(strategy, params)
        return self


class ThresholdsConfig(Strict):
    """The regime rules' numbers; see kraken_global.regimes and the README."""

    trend_days: FiniteFloat = Field(default=50, gt=0)
    vol_days: FiniteFloat = Field(default=7, gt=0)
    vol_history_days: FiniteFloat = Field(default=90, gt=0)
    drawdown_days: FiniteFloat = Field(default=90, gt=0)
    breadth_days: FiniteFloat = Field(default=20, gt=0)
    trend_band: FiniteFloat = Field(default=0.02, ge=0, lt=1)
    breadth_risk_on: FiniteFloat = Field(default=0.6, ge=0, le=1)
    breadth_risk_off: FiniteFloat = Field(default=0.4, ge=0, le=1)
    panic_drawdown: FiniteFloat = Field(default=0.25, gt=0, lt=1)
    panic_vol_rank: FiniteFloat = Field(default=0.85, ge=0, le=1)
    panic_recent_return: FiniteFloat = Field(default=0.0, ge=-1, le=1)
    confirm_days: FiniteFloat = Field(default=1, ge=0)
    min_dwell_days: FiniteFloat = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdsConfig:
        if self.breadth_risk_off > self.breadth_risk_on:
            raise ValueError("breadth_risk_off must not exceed breadth_risk_on")
        return self

    def model(self):
        from kraken_global.regimes import RegimeThresholds

        return RegimeThresholds(**self.model_dump())


RegimeName = Literal["RISK_ON", "NEUTRAL", "RISK_OFF", "PANIC"]


def _default_selection() -> dict[str, dict[str, FiniteFloat]]:
    from kraken_global.selection import DEFAULT_SELECTION

    return {regime.name: dict(slot) for regime, slot in DEFAULT_SELECTION.items()}


class RegimesConfig(Strict):
    reference: str = "BTC/USD"
    thresholds: ThresholdsConfig = ThresholdsConfig()
    selection: dict[RegimeName, dict[str, FiniteFloat]] = Field(default_factory=_default_selection)
    after_panic: dict[str, FiniteFloat] = Field(default_factory=lambda: {"Recovery": 1.0})

    @field_validator("selection", mode="before")
    @classmethod
    def _merge_defaults(cls, value: Any) -> Any:
        """A regime left out of the config keeps its default slot."""
        if isinstance(value, dict):
            return {**_default_selection(), **value}
        return value

    @model_validator(mode="after")
    def _valid_map(self) -> RegimesConfig:
        self.selector()
        return self

    def selection_map(self):
        from kraken_global.regime_names import Regime

        missing = [r.name for r in Regime if r.name not in self.selection]
        if missing:
            raise ValueError(f"selection has no entry for {', '.join(missing)}")
        return {Regime[name]: slot for name, slot in self.selection.items()}

    def selector(self):
        from kraken_global.selection import RegimeSelector

        return RegimeSelector(self.selection_map(), self.after_panic)
