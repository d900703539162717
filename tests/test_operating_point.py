"""The operating point is fixed at training and binds every run with the model."""

import pytest

from kraken_global.config import BacktestConfig
from kraken_global.errors import ConfigError
from kraken_global.ml.operating_point import bind_operating_point, operating_point


def test_training_fixes_the_operating_point_and_refuses_a_switched_off_model():
    config = BacktestConfig().with_overrides({"ml.min_probability": 0.55})
    assert operating_point(config) == {"min_probability": 0.55, "horizon_bars": 24}
    for off in (0.0, 1.0):
        with pytest.raises(ConfigError, match="switch the model off"):
            operating_point(BacktestConfig().with_overrides({"ml.min_probability": off}))


def test_keys_at_their_default_take_the_models_values():
    manifest = {"id": "m1", "operating_point": {"min_probability": 0.6, "horizon_bars": 12}}
    bound = bind_operating_point(BacktestConfig(), manifest)
    assert (bound.ml.min_probability, bound.ml.horizon_bars) == (0.6, 12)


def test_a_config_that_contradicts_the_model_is_refused_with_the_fix():
    manifest = {"id": "m1", "operating_point": {"min_probability": 0.6, "horizon_bars": 24}}
    config = BacktestConfig().with_overrides({"ml.min_probability": 0.7})
    with pytest.raises(ConfigError, match=r"ml.min_probability is 0.7 in the config but .* 0.6.*Remove these keys"):
        bind_operating_point(config, manifest)
    same = BacktestConfig().with_overrides({"ml.min_probability": 0.6})
    assert bind_operating_point(same, manifest).ml.min_probability == 0.6


def test_a_manifest_without_an_operating_point_is_refused():
    with pytest.raises(ConfigError, match="no operating point"):
        bind_operating_point(BacktestConfig(), {"id": "old"})
