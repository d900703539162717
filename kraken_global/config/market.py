"""What is traded and on what terms: the universe, the data and its gap policy, the broker's fees and slippage,
and the daily downtime."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kraken_global.config.base import Strict
from kraken_global.feeds.timeframes import check_timeframe
from kraken_global.fees import PRESETS, FeeSchedule, FeeTier
from kraken_global.schedule import DowntimeSchedule
from kraken_global.universe import DEFAULT_UNIVERSE, PairRules, build_universe


class CustomPair(Strict):
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


class UniverseConfig(Strict):
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


class GapsConfig(Strict):
    """Gaps in time (missing bars) and in price (a bar ``max_jump`` times or 1/``max_jump`` of its neighbours).

    Defaults = ``feeds.validation.GapPolicy()`` (a test keeps them equal), written out so that a config loads without
    importing pandas."""

    max_fill: int = Field(default=6, ge=0, le=10_000)
    on_larger_gap: Literal["error", "fill"] = "error"
    max_jump: float | None = Field(default=10.0, gt=1)
    on_jump: Literal["error", "repair"] = "error"

    def policy(self):
        from kraken_global.feeds.validation import GapPolicy

        return GapPolicy(self.max_fill, self.on_larger_gap, self.max_jump, self.on_jump)


class DataConfig(Strict):
    directory: Path | None = None
    format: Literal["auto", "cryptodatadownload", "ohlcvt", "trades"] = "auto"
    timeframe: str = "1h"
    start: date | None = None
    end: date | None = None
    gaps: GapsConfig = GapsConfig()
    # candles recorded by sessions (live.record_candles), joined after directory's; sessions and their retraining
    # always join their own record, backtests/train/gates only when this is set
    recorded: Path | None = None

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str) -> str:
        check_timeframe(value)
        return value

    @model_validator(mode="after")
    def _range(self) -> DataConfig:
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self


class FeeTierConfig(Strict):
    min_volume: float = Field(ge=0)
    maker_pct: float = Field(ge=0, le=10)
    taker_pct: float = Field(ge=0, le=10)


class FeesConfig(Strict):
    preset: Literal["kraken-legacy", "kraken-pro", "kraken-2026-07", "custom"] = "kraken-legacy"
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


class BrokerConfig(Strict):
    cash: float = Field(default=10_000.0, gt=0, le=1e12, allow_inf_nan=False)  # USD; above 1e12 is a typo
    fees: FeesConfig = FeesConfig()
    slippage_bps: float = Field(default=5.0, ge=0, le=1000)
    random_slippage_bps: float = Field(default=0.0, ge=0, le=1000)
    volume_share: float | None = Field(default=0.1, gt=0, le=1)
    # no buy takes one pair above this share of the portfolio's value (backtest, paper and live alike;
    # stablecoin pairs exempt); null: no limit. See kraken_global.exposure.
    max_pair_share: float | None = Field(default=0.5, gt=0, le=1)


class ScheduleConfig(Strict):
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
