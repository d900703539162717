"""The whole config, and reading it: YAML in, every problem reported at once as ``key.path: message`` lines inside
one :class:`~kraken_global.errors.ConfigError`; a config dumped back to YAML."""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError, ValidationInfo, field_validator

from kraken_global.config.alerts import AlertsConfig
from kraken_global.config.base import Strict
from kraken_global.config.live import LiveConfig
from kraken_global.config.market import BrokerConfig, DataConfig, ScheduleConfig, UniverseConfig
from kraken_global.config.model import GatesConfig, MLConfig
from kraken_global.config.run import RunConfig
from kraken_global.config.strategy import RegimesConfig, StrategyConfig
from kraken_global.errors import ConfigError
from kraken_global.files import read_text_limited
from kraken_global.universe import build_universe


class BacktestConfig(Strict):
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
    alerts: AlertsConfig = AlertsConfig()

    @field_validator("regimes")
    @classmethod
    def _known_reference(cls, regimes: RegimesConfig, info: ValidationInfo) -> RegimesConfig:
        """A typo in the reference pair must not pass unnoticed (with a single strategy it is not used at all)."""
        universe = info.data.get("universe")
        if universe is not None:
            custom = [c.rules() for c in universe.custom_pairs]
            try:
                build_universe([regimes.reference], custom)
            except ValueError as exc:
                raise ValueError(f"reference: {exc}") from None
        return regimes

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


# pydantic's words for the strict value types of config.base, said as a config's reader would
_TYPE_MESSAGES = {"float_type": "must be a number", "int_type": "must be a whole number",
                  "bool_type": "must be true or false", "finite_number": "must be a finite number"}
MAX_LISTED_ERRORS = 20  # a config with thousands of wrong values gets a readable message, not thousands of lines


def _as_yaml(value: Any) -> str:
    """A wrong value as the config wrote it (``true``, not Python's ``True``), shortened."""
    return str(value).lower() if isinstance(value, bool) else reprlib.repr(value)


def _format_errors(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors()[:MAX_LISTED_ERRORS]:
        path = ".".join(str(p) for p in item["loc"]) or "<top>"
        unknown = item["type"] == "extra_forbidden"
        message = "unknown key" if unknown else item["msg"].removeprefix("Value error, ")
        if item["type"] in _TYPE_MESSAGES:
            message = f"{_TYPE_MESSAGES[item['type']]}, not {_as_yaml(item['input'])}"
        lines.append(f"  {path}: {message}")
    if len(lines) == 1:  # one mistake, one line
        return f"invalid configuration in {source}: {lines[0].strip()}"
    if error.error_count() > len(lines):
        lines.append(f"  ... and {error.error_count() - len(lines)} more")
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


class _ConfigLoader(yaml.SafeLoader):
    """YAML's safe loader, stricter where YAML's leniency hides mistakes: a key given twice in one mapping is an
    error (YAML's last-wins hides typos), a key must be a plain value (a list or mapping as key, YAML's "complex
    key", cannot name a setting), and a date must exist (``2019-13-45`` is an error with its line, not a crash)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(None, None, f"a key must be a name, not {key!r}",
                                                        key_node.start_mark) from None
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(None, None, f"{node.value!r} is not a date or time: {exc}",
                                                    node.start_mark) from None


_ConfigLoader.add_constructor("tag:yaml.org,2002:timestamp", _ConfigLoader.construct_yaml_timestamp)


def load_config(path: Path | None) -> BacktestConfig:
    """Read and validate a YAML config; ``None`` gives the defaults."""
    if path is None:
        return BacktestConfig()
    path = Path(path)
    text = read_text_limited(path, "config", MAX_CONFIG_BYTES)  # a regular file only, never more than the limit
    try:
        tree = yaml.load(text, Loader=_ConfigLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise ConfigError(f"config {path} is not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"config {path} is nested too deeply to be a config") from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of more than 4300 digits
        raise ConfigError(f"config {path} holds a value that cannot be read: {exc}") from None
    return parse_config(tree, str(path))


def dump_config(config: BacktestConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
