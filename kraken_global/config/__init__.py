"""Run configuration: frozen pydantic models that reject unknown keys, loaded from YAML.

Defaults live here and only here; ``configs/default.yaml`` spells them out (a test keeps the two equal).
:func:`load_config` turns every validation problem into one line ``key.path: message`` inside a single
:class:`~kraken_global.errors.ConfigError`, so a user sees all mistakes at once. One module per family of
sections: :mod:`.market` (universe, data, broker, schedule), :mod:`.strategy` (strategy and regimes),
:mod:`.model` (ML and gates), :mod:`.live` (sessions, risk, dashboard), :mod:`.capital` (budget and
ramp), :mod:`.alerts`, :mod:`.run`; :mod:`.loading` holds the whole.
"""

from __future__ import annotations

from kraken_global.config.alerts import AlertsConfig, CommandConfig, WebhookConfig
from kraken_global.config.capital import CapitalConfig, RampConfig
from kraken_global.config.live import DashboardConfig, LiveConfig, RiskConfig
from kraken_global.config.loading import (
    MAX_CONFIG_BYTES,
    BacktestConfig,
    dump_config,
    load_config,
    parse_config,
)
from kraken_global.config.market import (
    BrokerConfig,
    CustomPair,
    DataConfig,
    FeesConfig,
    FeeTierConfig,
    GapsConfig,
    ScheduleConfig,
    UniverseConfig,
)
from kraken_global.config.model import GatesConfig, MLConfig
from kraken_global.config.run import RunConfig
from kraken_global.config.strategy import RegimesConfig, StrategyConfig, ThresholdsConfig

__all__ = ["MAX_CONFIG_BYTES", "AlertsConfig", "BacktestConfig", "BrokerConfig", "CapitalConfig", "CommandConfig",
           "CustomPair", "DashboardConfig", "DataConfig", "FeeTierConfig", "FeesConfig", "GapsConfig", "GatesConfig",
           "LiveConfig", "MLConfig", "RampConfig", "RegimesConfig", "RiskConfig", "RunConfig", "ScheduleConfig",
           "StrategyConfig", "ThresholdsConfig", "UniverseConfig", "WebhookConfig", "dump_config", "load_config",
           "parse_config"]
