"""What a backtest reads before it runs, computed once for many runs: the candles with their warm-up and the regime
plan.

A sweep of 200 points used to load and validate the same files and rebuild the same regime plan 200 times, which
cost more than the backtests of a short config. :class:`RunInputs` keys each load by everything that decides it
(the universe, the data section and the warm-up, in bars) and each plan by its data and the regime settings, so
runs that need the same inputs get the very same frames, and a run whose inputs differ loads its own: a sweep point
is exactly the backtest of its config, whatever ran before it.

A sweep prepares the inputs its grid will need on the driver and sends them to every Dask worker once
(:func:`kraken_global.distributed.share`); a worker computes what was not prepared (a combination of two values
that changes the warm-up, say) itself and keeps the last few in a small cache.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import pandas as pd

from kraken_global.assembly.regime_system import build_plan
from kraken_global.assembly.warmup import Warmup, load_with_warmup, warmup_bars
from kraken_global.config import BacktestConfig
from kraken_global.feeds.sources import UniverseData

LOCAL_CACHE = 4  # inputs kept by a process beyond the prepared ones: a few, so memory stays bounded


def data_key(config: BacktestConfig) -> str:
    """Everything that decides what :func:`load_with_warmup` returns for ``config``."""
    return json.dumps({"universe": config.universe.model_dump(mode="json"),
                       "data": config.data.model_dump(mode="json"), "warmup": warmup_bars(config)},
                      sort_keys=True)


def plan_key(config: BacktestConfig) -> str:
    return json.dumps({"data": data_key(config), "regimes": config.regimes.model_dump(mode="json")}, sort_keys=True)


class RunInputs:
    """Candles (with warm-up) and regime plans by key: ``prepared`` ones, and a small cache of the rest."""

    def __init__(self, cache: int = LOCAL_CACHE) -> None:
        self._prepared_data: dict[str, tuple[UniverseData, Warmup]] = {}
        self._prepared_plans: dict[str, pd.DataFrame] = {}
        self._data: OrderedDict[str, tuple[UniverseData, Warmup]] = OrderedDict()
        self._plans: OrderedDict[str, pd.DataFrame] = OrderedDict()
        self._cache = cache

    def prepare(self, config: BacktestConfig) -> None:
        """Load (and for the regime system plan) what ``config`` needs, to be kept for every run that shares it."""
        data, warmup = self.data(config)
        self._prepared_data.setdefault(data_key(config), (data, warmup))
        if config.strategy.name == "regime" and config.regimes.reference in data.candles:
            self._prepared_plans.setdefault(plan_key(config), self.plan(config, data.candles, warmup))

    @property
    def prepared(self) -> int:
        return len(self._prepared_data) + len(self._prepared_plans)

    @property
    def prepared_bytes(self) -> int:
        """Memory the prepared candles and plans take (every worker holds a copy)."""
        frames = [f for data, _ in self._prepared_data.values() for f in data.candles.values()]
        frames += list(self._prepared_plans.values())
        return int(sum(frame.memory_usage(index=True, deep=False).sum() for frame in frames))

    def data(self, config: BacktestConfig) -> tuple[UniverseData, Warmup]:
        key = data_key(config)
        if key in self._prepared_data:
            return self._prepared_data[key]
        return _cached(self._data, key, self._cache, lambda: load_with_warmup(config))

    def plan(self, config: BacktestConfig, candles: dict[str, pd.DataFrame], warmup: Warmup) -> pd.DataFrame:
        """The regime plan of ``config`` on ``candles`` (which must be ``self.data(config)``'s)."""
        key = plan_key(config)
        if key in self._prepared_plans:
            return self._prepared_plans[key]
        return _cached(self._plans, key, self._cache,
                       lambda: build_plan(config, candles, warmup.evaluation_start))

    def __getstate__(self) -> dict[str, Any]:
        """Only the prepared inputs travel to a worker; its cache starts empty."""
        return {**self.__dict__, "_data": OrderedDict(), "_plans": OrderedDict()}


def _cached(cache: OrderedDict, key: str, size: int, compute):
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = compute()
    cache[key] = value
    while len(cache) > size:
        cache.popitem(last=False)
    return value
