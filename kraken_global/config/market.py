"""What is traded and on what terms: the universe, the data and its gap policy, the broker's fees and slippage,
and the daily downtime."""

from __future__ import annotations

from datetime import date, time
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from kraken_global.config.base import FiniteFloat, Flag, Strict, UserPath, WholeNumber
from kraken_global.feeds.timeframes import check_timeframe
from kraken_global.fees import PRESETS, FeeSchedule, FeeTier
from kraken_global.schedule import DowntimeSchedule
from kraken_global.universe import DEFAULT_UNIVERSE, PairRules, build_universe


class CustomPair(Strict):
    """A pair the shipped catalog does not know, with its Kraken rules."""

    symbol: str = Field(pattern=r"^[A-Z0-9]+/[A-Z]+$")
    pair_id: str
    altname: str
    pair_decimals: WholeNumber = Field(ge=0, le=12)
    lot_decimals: WholeNumber = Field(ge=0, le=12)
    ordermin: FiniteFloat = Field(gt=0)
    costmin: FiniteFloat = Field(default=0.5, ge=0)
    tick_size: FiniteFloat = Field(gt=0)

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

    @field_validator("benchmark")
    @classmethod
    def _known_benchmark(cls, value: str, info: ValidationInfo) -> str:
        """A typo must not quietly leave the report without its benchmark: any pair the catalog or
        ``custom_pairs`` knows, traded or not."""
        custom = [c.rules() for c in info.data.get("custom_pairs", ())]
        build_universe([value], custom)  # UnknownSymbolError (a ValueError) names the known pairs
        return value

    def build(self):
        return build_universe(self.pairs, [c.rules() for c in self.custom_pairs])

    def benchmark_symbol(self) -> str:
        """The benchmark's symbol as feeds are named (``XBTUSD`` -> ``BTC/USD``)."""
        return build_universe([self.benchmark], [c.rules() for c in self.custom_pairs]).symbols[0]


class GapsConfig(Strict):
    """Gaps in time (missing bars) and in price (a bar ``max_jump`` times or 1/``max_jump`` of its neighbours).

    Defaults = ``feeds.validation.GapPolicy()`` (a test keeps them equal), written out so that a config loads without
    importing pandas."""

    max_fill: WholeNumber = Field(default=6, ge=0, le=10_000)
    on_larger_gap: Literal["error", "fill"] = "error"
    max_jump: FiniteFloat | None = Field(default=10.0, gt=1)
    on_jump: Literal["error", "repair"] = "error"

    def policy(self):
        from kraken_global.feeds.validation import GapPolicy

        return GapPolicy(self.max_fill, self.on_larger_gap, self.max_jump, self.on_jump)


class DataConfig(Strict):
    directory: UserPath | None = None
    format: Literal["auto", "cryptodatadownload", "ohlcvt", "trades"] = "auto"
    timeframe: str = "1h"
    start: date | None = None
    end: date | None = None
    gaps: GapsConfig = GapsConfig()
    # candles recorded by sessions (live.record_candles), joined after directory's; sessions and their retraining
    # always join their own record, backtests/train/gates only when this is set
    recorded: UserPath | None = None

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str) -> str:
        check_timeframe(value)
        return value

    @model_validator(mode="after")
    def _range(self) -> DataConfig:
        if self.start and self.end and self.start > self.end:  # both days are inclusive: one day is a period
            raise ValueError(f"start {self.start} must be before end {self.end} (or the same day)")
        return self


class FeeTierConfig(Strict):
    min_volume: FiniteFloat = Field(ge=0)
    maker_pct: FiniteFloat = Field(ge=0, le=10)
    taker_pct: FiniteFloat = Field(ge=0, le=10)


class FeesConfig(Strict):
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


class BrokerConfig(Strict):
    cash: FiniteFloat = Field(default=10_000.0, gt=0, le=1e12)  # USD; above 1e12 is a typo
    fees: FeesConfig = FeesConfig()
    slippage_bps: FiniteFloat = Field(default=5.0, ge=0, le=1000)
    random_slippage_bps: FiniteFloat = Field(default=0.0, ge=0, le=1000)
    volume_share: FiniteFloat | None = Field(default=0.1, gt=0, le=1)
    # no buy takes one pair above this share of the portfolio's value (backtest, paper and live alike;
    # stablecoin pairs exempt); null: no limit. See kraken_global.exposure.
    max_pair_share: FiniteFloat | None = Field(default=0.5, gt=0, le=1)


class ScheduleConfig(Strict):
    enabled: Flag = True
    downtime_start: time = time(3, 0)
    downtime_end: time = time(5, 0)
    transition_minutes: WholeNumber = Field(default=30, ge=0, le=1439)

    @model_validator(mode="after")
    def _valid(self) -> ScheduleConfig:
        self.schedule()
        return self

    def schedule(self) -> DowntimeSchedule:
        return DowntimeSchedule(self.downtime_start, self.downtime_end, self.transition_minutes, self.enabled)
