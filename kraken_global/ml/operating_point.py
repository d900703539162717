"""The operating point: the config keys that change how a model trades, fixed in its manifest at training.

A model is gated at one operating point (say ``ml.min_probability`` 0.55); trading it at another is trading an
ungated model. At 0.0 the entry filter vetoes nothing, so the model is silently switched off. So training writes
these keys into the manifest, and every run with a model (gates, backtests, paper, live) takes them from there.

A config key left at its default takes the model's value; a config that sets another value contradicts the model
and is refused, naming the key, both values and the fix.
"""

from __future__ import annotations

from typing import Any

from kraken_global.config import BacktestConfig, MLConfig
from kraken_global.errors import ConfigError

OPERATING_KEYS = ("min_probability", "horizon_bars")


def operating_point(config: BacktestConfig) -> dict[str, Any]:
    """The operating point a training with ``config`` fixes; refuses one that would switch the model off."""
    point = {key: getattr(config.ml, key) for key in OPERATING_KEYS}
    if not 0 < point["min_probability"] < 1:
        raise ConfigError(f"ml.min_probability {point['min_probability']} would switch the model off (0 vetoes "
                          "nothing, 1 vetoes everything): a model is trained for a threshold strictly between 0 "
                          "and 1, e.g. 0.55")
    return point


def _point_of(manifest: dict[str, Any]) -> dict[str, Any]:
    point = manifest.get("operating_point")
    if not isinstance(point, dict) or any(key not in point for key in OPERATING_KEYS):
        raise ConfigError(f"model {manifest.get('id', '?')} has no operating point ({', '.join(OPERATING_KEYS)}) in "
                          "its manifest: it was trained before operating points were recorded; train a new "
                          "candidate and gate it")
    return point


def at_operating_point(config: BacktestConfig, manifest: dict[str, Any]) -> BacktestConfig:
    """``config`` with the model's operating point, whatever the config says: how a rival model (the approved one,
    beside a candidate in the gates) is run at the point it was gated at."""
    return config.with_overrides({f"ml.{key}": value for key, value in _point_of(manifest).items()})


def bind_operating_point(config: BacktestConfig, manifest: dict[str, Any]) -> BacktestConfig:
    """``config`` with the model's operating point; :class:`ConfigError` when the config contradicts it or the
    manifest has none."""
    model_id = manifest.get("id", "?")
    point = _point_of(manifest)
    defaults = MLConfig()
    conflicts = [f"ml.{key} is {getattr(config.ml, key)!r} in the config but the model was trained and gated at "
                 f"{point[key]!r}" for key in OPERATING_KEYS
                 if getattr(config.ml, key) != point[key] and getattr(config.ml, key) != getattr(defaults, key)]
    if conflicts:
        raise ConfigError(f"the config contradicts model {model_id}'s operating point: " + "; ".join(conflicts) +
                          ". Remove these keys from the config (the model's values apply) or set them to the "
                          "model's values; to trade at another point, train and gate a model there")
    pinned = {"model_id": manifest.get("id"), "model_sha256": manifest.get("sha256")}
    for key, actual in pinned.items():
        wanted = getattr(config.ml, key)
        if wanted is not None and wanted != actual:
            raise ConfigError(f"ml.{key} pins {wanted}, but the model is {actual}: the approved model changed since "
                              "this config was written; remove the pin to trade the approved model, or roll back")
    return config.with_overrides({**{f"ml.{key}": point[key] for key in OPERATING_KEYS},
                                  **{f"ml.{key}": value for key, value in pinned.items()}})


def model_record(manifest: dict[str, Any]) -> dict[str, Any]:
    """What results say about the model a run traded with."""
    return {"id": manifest.get("id"), "sha256": manifest.get("sha256"),
            "operating_point": manifest.get("operating_point")}
