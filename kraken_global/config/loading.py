"""The whole config, and reading it: YAML in, every problem reported at once as ``key.path: message`` lines inside
one :class:`~kraken_global.errors.ConfigError`; a config dumped back to YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kraken_global.config.base import Strict
from kraken_global.config.live import LiveConfig
from kraken_global.config.market import BrokerConfig, DataConfig, ScheduleConfig, UniverseConfig
from kraken_global.config.model import GatesConfig, MLConfig
from kraken_global.config.research import ResearchConfig
from kraken_global.config.run import RunConfig
from kraken_global.config.strategy import RegimesConfig, StrategyConfig
from kraken_global.errors import ConfigError


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
    research: ResearchConfig = ResearchConfig()
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
