"""Run configuration: frozen pydantic models that reject unknown keys, loaded from YAML.

Defaults live here and only here; ``configs/default.yaml`` spells them out (a test keeps the two equal).
:func:`load_config` turns every validation problem into one line ``key.path: message`` inside a single
:class:`~kraken_global.errors.ConfigError`, so a user sees all mistakes at once.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kraken_global.errors import ConfigError
from kraken_global.feeds.timeframes import parse_timeframe
from kraken_global.feeds.validation import DEFAULT_GAPS, GapPolicy
from kraken_global.fees import PRESETS, FeeSchedule, FeeTier
from kraken_global.schedule import DowntimeSchedule
from kraken_global.universe import DEFAULT_UNIVERSE, PairRules, build_universe


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomPair(_Strict):
    """A pair the shipped catalog does not know, with its Kraken rules."""

    symbol: str = Field(pattern=r"^[A-Z0-9]+/[A-Z]+$")
    pair_id: str
    altname: str
    pair_decimals: int = Field(ge=0, le=12)
    lot_decimals: int = Field(ge=0, le=12)
    ordermin: float = Field(gt=0)
    costmin: float = Field(default=0.5, ge=0)
    tick_size: float = Field(gt=0)

    def rules(self) -> PairRules:
        return PairRules(self.symbol, self.pair_id, self.altname, self.symbol, self.symbol.split("/")[0], "ZUSD",
                         self.pair_decimals, self.lot_decimals, self.ordermin, self.costmin, self.tick_size)


class UniverseConfig(_Strict):
    pairs: tuple[str, ...] = DEFAULT_UNIVERSE
    custom_pairs: tuple[CustomPair, ...] = ()
    benchmark: str = "BTC/USD"

    @model_validator(mode="after")
    def _resolvable(self) -> UniverseConfig:
        if not self.pairs:
            raise ValueError("pairs must list at least one pair")
        self.build()  # UnknownSymbolError is a ValueError: pydantic reports it under this key
        return self

    def build(self):
        return build_universe(self.pairs, [c.rules() for c in self.custom_pairs])


class GapsConfig(_Strict):
    max_fill: int = Field(default=DEFAULT_GAPS.max_fill, ge=0, le=10_000)
    on_larger_gap: Literal["error", "fill"] = "error"

    def policy(self) -> GapPolicy:
        return GapPolicy(self.max_fill, self.on_larger_gap)


class DataConfig(_Strict):
    directory: Path | None = None
    format: Literal["auto", "cryptodatadownload", "ohlcvt", "trades"] = "auto"
    timeframe: str = "1h"
    start: date | None = None
    end: date | None = None
    gaps: GapsConfig = GapsConfig()

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str) -> str:
        parse_timeframe(value)
        return value

    @model_validator(mode="after")
    def _range(self) -> DataConfig:
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self


class FeeTierConfig(_Strict):
    min_volume: float = Field(ge=0)
    maker_pct: float = Field(ge=0, le=10)
    taker_pct: float = Field(ge=0, le=10)


class FeesConfig(_Strict):
    preset: Literal["kraken-legacy", "kraken-pro", "custom"] = "kraken-legacy"
    tiers: tuple[FeeTierConfig, ...] = ()

    @model_validator(mode="after")
    def _tiers(self) -> FeesConfig:
        if (self.preset == "custom") != bool(self.tiers):
            raise ValueError("tiers are required with preset 'custom' and only allowed with it")
        if self.tiers:
            self.schedule()
        return self

    def schedule(self) -> FeeSchedule:
        if self.preset != "custom":
            return PRESETS[self.preset]
        return FeeSchedule("custom", tuple(FeeTier(t.min_volume, t.maker_pct / 100, t.taker_pct / 100)
                                           for t in self.tiers))


class BrokerConfig(_Strict):
    cash: float = Field(default=10_000.0, gt=0)
    fees: FeesConfig = FeesConfig()
    slippage_bps: float = Field(default=5.0, ge=0, le=1000)
    random_slippage_bps: float = Field(default=0.0, ge=0, le=1000)
    volume_share: float | None = Field(default=0.1, gt=0, le=1)


class ScheduleConfig(_Strict):
    enabled: bool = True
    downtime_start: time = time(3, 0)
    downtime_end: time = time(5, 0)
    transition_minutes: int = Field(default=30, ge=0, le=1439)

    @model_validator(mode="after")
    def _valid(self) -> ScheduleConfig:
        self.schedule()
        return self

    def schedule(self) -> DowntimeSchedule:
        return DowntimeSchedule(self.downtime_start, self.downtime_end, self.transition_minutes, self.enabled)


class StrategyConfig(_Strict):
    name: Literal["baseline"] = "baseline"
    params: dict[str, float | int | bool | str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_params(self) -> StrategyConfig:
        from kraken_global.strategies import STRATEGIES

        known = set(STRATEGIES[self.name].params._getkeys()) - {"schedule"}
        unknown = sorted(set(self.params) - known)
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(unknown)} for strategy {self.name!r}; "
                             f"known: {', '.join(sorted(known))}")
        return self


class RunConfig(_Strict):
    seed: int = 42
    out: Path = Path("results/default")
    plot: bool = True
    progress: bool = True


class BacktestConfig(_Strict):
    """Everything a backtest needs besides the data itself."""

    universe: UniverseConfig = UniverseConfig()
    data: DataConfig = DataConfig()
    broker: BrokerConfig = BrokerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    strategy: StrategyConfig = StrategyConfig()
    run: RunConfig = RunConfig()

    def with_overrides(self, overrides: dict[str, Any]) -> BacktestConfig:
        """A copy with dotted-key overrides (``{"data.timeframe": "4h"}``), validated again."""
        tree = self.model_dump(mode="json")
        for dotted, value in overrides.items():
            node = tree
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node[key]
            node[leaf] = value
        return parse_config(tree, "<command line>")


def _format_errors(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"]) or "<top>"
        unknown = item["type"] == "extra_forbidden"
        message = "unknown key" if unknown else item["msg"].removeprefix("Value error, ")
        lines.append(f"  {path}: {message}")
    return f"invalid configuration in {source}:\n" + "\n".join(lines)


def parse_config(tree: Any, source: str = "<config>") -> BacktestConfig:
    if tree is None:
        tree = {}
    if not isinstance(tree, dict):
        raise ConfigError(f"invalid configuration in {source}: the top level must be a mapping of sections")
    try:
        return BacktestConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None


def load_config(path: Path | None) -> BacktestConfig:
    """Read and validate a YAML config; ``None`` gives the defaults."""
    if path is None:
        return BacktestConfig()
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {exc}") from None
    return parse_config(tree, str(path))


def dump_config(config: BacktestConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
