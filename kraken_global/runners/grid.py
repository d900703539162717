"""A parameter grid: config keys and the values to try, read one point at a time.

``--set strategy.params.fast=20,40,60 --set data.timeframe=1h,4h`` is a grid of 6 points. Points are numbered in
a fixed order (the last key varies fastest), so point 5 is the same combination in every run of the same grid: a
resumed sweep skips exactly the points it has, and a table sorted by point is the same wherever they ran. The grid
is never built as a list: a grid of a million points costs no memory until its points are run, one by one.
Values are read as YAML (``20`` is a number, ``4h`` a string, ``[a, b]`` a list: ``k=[1, 2],[3]`` is two values).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from kraken_global.errors import ConfigError


@dataclass(frozen=True)
class Grid:
    """Each key's values, in the order given."""

    axes: tuple[tuple[str, tuple[Any, ...]], ...]

    @property
    def keys(self) -> list[str]:
        return [key for key, _ in self.axes]

    @property
    def size(self) -> int:
        return math.prod(len(values) for _, values in self.axes)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for values in itertools.product(*(values for _, values in self.axes)):
            yield dict(zip(self.keys, values, strict=True))

    def point(self, index: int) -> dict[str, Any]:
        """The ``index``-th point (0-based) without walking the grid."""
        if not 0 <= index < self.size:
            raise ConfigError(f"point {index} is outside the grid of {self.size} points (0..{self.size - 1})")
        chosen = {}
        for key, values in reversed(self.axes):
            index, position = divmod(index, len(values))
            chosen[key] = values[position]
        return {key: chosen[key] for key in self.keys}

    def describe(self) -> str:
        return " x ".join(f"{len(values)} {key}" for key, values in self.axes)

    def to_dict(self) -> dict[str, list[Any]]:
        return {key: list(values) for key, values in self.axes}

    @classmethod
    def from_dict(cls, axes: dict[str, list[Any]]) -> Grid:
        return cls(tuple((key, tuple(values)) for key, values in axes.items()))


def parse_grid(assignments: list[str]) -> Grid:
    """``["KEY=V1,V2", ...]`` from the command line; a key or a value given twice is an error."""
    axes: dict[str, tuple[Any, ...]] = {}
    for text in assignments:
        key, sep, values = text.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ConfigError(f"--set {text!r}: expected KEY=V1,V2,... (e.g. strategy.params.fast=20,40)")
        if key in axes:
            raise ConfigError(f"--set {key} is given twice: list all its values in one --set {key}=V1,V2,...")
        try:  # one YAML flow sequence, so that a list value keeps its commas: c=[1, 2],[3, 4]
            parsed = tuple(yaml.safe_load(f"[{values}]"))
        except yaml.YAMLError:
            raise ConfigError(f"--set {text!r}: the values are not YAML separated by commas (quote a value that "
                              "holds a comma or a colon)") from None
        repeated = [v for i, v in enumerate(parsed) if v in parsed[:i]]
        if repeated:
            raise ConfigError(f"--set {key}: the value {repeated[0]!r} is listed twice")
        axes[key] = parsed
    if not axes:
        raise ConfigError("a sweep needs at least one --set KEY=V1,V2,...")
    return Grid(tuple(axes.items()))


def check_grid_size(grid: Grid, limit: int) -> None:
    if grid.size > limit:
        raise ConfigError(f"the grid has {grid.size:,} points ({grid.describe()}), above run.max_grid_points "
                          f"{limit:,}: give fewer values, or raise run.max_grid_points in the config")
