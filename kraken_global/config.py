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
from kraken_global.feeds.timeframes import check_timeframe
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


class DataConfig(_Strict):
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
    cash: float = Field(default=10_000.0, gt=0, le=1e12, allow_inf_nan=False)  # USD; above 1e12 is a typo
    fees: FeesConfig = FeesConfig()
    slippage_bps: float = Field(default=5.0, ge=0, le=1000)
    random_slippage_bps: float = Field(default=0.0, ge=0, le=1000)
    volume_share: float | None = Field(default=0.1, gt=0, le=1)
    # no buy takes one pair above this share of the portfolio's value (backtest, paper and live alike;
    # stablecoin pairs exempt); null: no limit. See kraken_global.exposure.
    max_pair_share: float | None = Field(default=0.5, gt=0, le=1)


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


STRATEGY_CHOICES = Literal["regime", "baseline", "TrendFollower", "VolatilitySwing", "MeanReversion",
                           "DefensiveHedge", "StableAllocator", "Recovery"]
Params = dict[str, float | int | bool | str]


def _check_params(strategy: str, params: Params) -> None:
    from kraken_global.strategies import STRATEGIES

    known = set(STRATEGIES[strategy].params._getkeys()) - {"schedule"}
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


class StrategyConfig(_Strict):
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


class ThresholdsConfig(_Strict):
    """The regime rules' numbers; see kraken_global.regimes and the README."""

    trend_days: float = Field(default=50, gt=0)
    vol_days: float = Field(default=7, gt=0)
    vol_history_days: float = Field(default=90, gt=0)
    drawdown_days: float = Field(default=90, gt=0)
    breadth_days: float = Field(default=20, gt=0)
    trend_band: float = Field(default=0.02, ge=0, lt=1)
    breadth_risk_on: float = Field(default=0.6, ge=0, le=1)
    breadth_risk_off: float = Field(default=0.4, ge=0, le=1)
    panic_drawdown: float = Field(default=0.25, gt=0, lt=1)
    panic_vol_rank: float = Field(default=0.85, ge=0, le=1)
    panic_recent_return: float = Field(default=0.0, ge=-1, le=1)
    confirm_days: float = Field(default=1, ge=0)
    min_dwell_days: float = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdsConfig:
        if self.breadth_risk_off > self.breadth_risk_on:
            raise ValueError("breadth_risk_off must not exceed breadth_risk_on")
        return self

    def model(self):
        from kraken_global.regimes import RegimeThresholds

        return RegimeThresholds(**self.model_dump())


RegimeName = Literal["RISK_ON", "NEUTRAL", "RISK_OFF", "PANIC"]


def _default_selection() -> dict[str, dict[str, float]]:
    from kraken_global.selection import DEFAULT_SELECTION

    return {regime.name: dict(slot) for regime, slot in DEFAULT_SELECTION.items()}


class RegimesConfig(_Strict):
    reference: str = "BTC/USD"
    thresholds: ThresholdsConfig = ThresholdsConfig()
    selection: dict[RegimeName, dict[str, float]] = Field(default_factory=_default_selection)
    after_panic: dict[str, float] = Field(default_factory=lambda: {"Recovery": 1.0})

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


class MLConfig(_Strict):
    """Training of the entry-filter model and where the registry keeps it."""

    artifacts: Path = Path("artifacts")
    namespace: str = Field(default="kraken_global", pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    train_end: date | None = None
    horizon_bars: int = Field(default=24, ge=1, le=10_000)
    embargo_bars: int = Field(default=24, ge=0, le=10_000)
    folds: int = Field(default=4, ge=2, le=20)
    min_probability: float = Field(default=0.5, ge=0, le=1)
    use_model: Literal["none", "approved"] = "none"
    # a pin: with use_model approved, refuse to run unless the approved model is this one. Results' config.yaml
    # records the model a run traded with here, so re-running a saved config trades the same model or refuses.
    model_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
    model_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class GatesConfig(_Strict):
    """The four gates' thresholds (see README "Gates"), and the optional fifth on the Deflated Sharpe Ratio."""

    min_sharpe: float = 0.5
    max_drawdown_pct: float = Field(default=15.0, gt=0)
    max_tail_loss_pct: float = Field(default=5.0, gt=0)
    max_turnover: float = Field(default=2.0, gt=0)
    oos_windows: int = Field(default=2, ge=1, le=12)
    dsr_gate: bool = True
    min_dsr: float = Field(default=0.95, ge=0, le=1)


class RiskConfig(_Strict):
    """Live risk limits (see :mod:`kraken_global.live.risk`)."""

    max_order_notional: float = Field(default=5_000.0, gt=0)
    max_position_notional: float = Field(default=10_000.0, gt=0)
    max_daily_loss_pct: float = Field(default=5.0, gt=0, le=100)

    def limits(self):
        from kraken_global.live.risk import RiskLimits

        return RiskLimits(self.max_order_notional, self.max_position_notional, self.max_daily_loss_pct)


class LiveConfig(_Strict):
    """Paper and live sessions: where Kraken is, where state and logs go, how often to poll."""

    api_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")  # None: Kraken itself
    credentials: Path | None = None  # None: KRAKEN_API_KEY / KRAKEN_API_SECRET
    state: Path = Path("state/trading.sqlite")
    logs: Path = Path("logs")
    poll_seconds: float = Field(default=10.0, gt=0, le=3600)
    sync_seconds: float = Field(default=5.0, gt=0, le=3600)
    timeout_ms: int = Field(default=10_000, ge=100, le=120_000)
    max_attempts: int = Field(default=5, ge=1, le=20)
    rate_limit: bool = True  # ccxt's throttle (about one call a second for Kraken); off only for the emulator
    dead_mans_switch_seconds: int = Field(default=60, ge=10, le=86_400)
    dms_refresh_seconds: float = Field(default=20.0, gt=0)
    max_bars: int | None = Field(default=None, ge=1)  # end the session after this many live bars
    max_idle_seconds: float | None = Field(default=None, gt=0)  # end it when no bar came for this long
    retrain: bool = True  # train a candidate and run its gates in each downtime (never promotes)
    record_candles: Path | None = Path("kg-data/candles")  # every closed candle a session sees; None: no record
    # deadline-safe placement: each AddOrder carries now + order_deadline_seconds (Kraken: 2..60 s); an unknown
    # outcome is looked up until that deadline plus deadline_margin_seconds has passed, and only then resent
    order_deadline_seconds: float = Field(default=15.0, ge=3, le=55)
    deadline_margin_seconds: float = Field(default=5.0, ge=0.5, le=60)
    key_lock_dir: Path | None = None  # one process per API key: its lock and nonce floor (None: ~/.kraken-global/keys)
    results: Path = Path("results")  # each session's folder is <results>/<mode>-<UTC start time> unless --out
    on_stop: Literal["cancel", "leave"] = "cancel"  # live: our open orders when the session stops
    status_port: int | None = Field(default=None, ge=1024, le=65_535)  # read-only JSON status on 127.0.0.1
    risk: RiskConfig = RiskConfig()

    @model_validator(mode="after")
    def _refresh_before_expiry(self) -> LiveConfig:
        if self.dms_refresh_seconds >= self.dead_mans_switch_seconds:
            raise ValueError("dms_refresh_seconds must be shorter than dead_mans_switch_seconds, or the switch "
                             "cancels every order between two refreshes")
        return self


class RunConfig(_Strict):
    seed: int = 42
    out: Path = Path("results/default")
    plot: bool = True
    progress: bool = True
    # where walk-forward folds, gate windows and sweeps run: serial | local (a LocalCluster) | tcp://host:8786
    scheduler: str = Field(default="local", pattern=r"^(serial|local|tcp://[^\s]+)$")
    workers: int | None = Field(default=None, ge=1, le=512)  # LocalCluster size (default: the machine's cores)


class BacktestConfig(_Strict):
    """Everything a backtest needs besides the data itself."""

    universe: UniverseConfig = UniverseConfig()
    data: DataConfig = DataConfig()
    broker: BrokerConfig = BrokerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    regimes: RegimesConfig = RegimesConfig()
    strategy: StrategyConfig = StrategyConfig()
    ml: MLConfig = MLConfig()
    gates: GatesConfig = GatesConfig()
    live: LiveConfig = LiveConfig()
    run: RunConfig = RunConfig()

    def with_overrides(self, overrides: dict[str, Any]) -> BacktestConfig:
        """A copy with dotted-key overrides (``{"data.timeframe": "4h"}``), validated again."""
        tree = self.model_dump(mode="json")
        for dotted, value in overrides.items():
            node = tree
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node.setdefault(key, {})  # e.g. strategy.per_strategy.TrendFollower.fast
            node[leaf] = value
        return parse_config(tree, "<command line>")


def _format_errors(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"]) or "<top>"
        unknown = item["type"] == "extra_forbidden"
        message = "unknown key" if unknown else item["msg"].removeprefix("Value error, ")
        lines.append(f"  {path}: {message}")
    if len(lines) == 1:  # one mistake, one line
        return f"invalid configuration in {source}: {lines[0].strip()}"
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


MAX_CONFIG_BYTES = 1_000_000  # a config is a page of YAML; a larger file is refused before it is parsed


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice in one mapping is an error (YAML's last-wins hides typos)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_config(path: Path | None) -> BacktestConfig:
    """Read and validate a YAML config; ``None`` gives the defaults."""
    if path is None:
        return BacktestConfig()
    path = Path(path)
    try:
        if path.is_dir():
            raise ConfigError(f"config {path} is a folder: name a YAML file")
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"config {path} is {size:,} bytes, over the {MAX_CONFIG_BYTES:,} a config may have: "
                              "is it the right file?")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    try:
        tree = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise ConfigError(f"config {path} is not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"config {path} is nested too deeply to be a config") from None
    return parse_config(tree, str(path))


def dump_config(config: BacktestConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
