"""Timeframe names used in configs and on the CLI, and their pandas equivalents."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kraken_global.errors import ConfigError

if TYPE_CHECKING:  # pandas is imported where a Timedelta is made: validating a config must not import it
    import pandas as pd

_UNITS = {"m": "min", "h": "h", "d": "D"}
_MINUTES = {"m": 1, "h": 60, "d": 1440}
LONGEST_MINUTES = 21_600  # 15 days: Kraken's longest candle (OHLC interval 21600)
_PATTERN = re.compile(r"^(\d+)([mhd])$")


def check_timeframe(name: str) -> tuple[int, str]:
    """``(count, pandas unit)`` of a timeframe name from 1 minute to 15 days; anything else is a ConfigError."""
    match = _PATTERN.match(str(name).strip().lower())
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"timeframe {name!r} is not valid: use a number and m, h or d, e.g. 1m, 15m, 1h, 4h, 1d")
    count, unit = int(match.group(1)), match.group(2)
    if count * _MINUTES[unit] > LONGEST_MINUTES:
        raise ConfigError(f"timeframe {name!r} is longer than 15d, Kraken's longest candle: use 1m .. 15d")
    return count, _UNITS[unit]


def parse_timeframe(name: str) -> pd.Timedelta:
    """``"1m"``, ``"15m"``, ``"1h"``, ``"4h"``, ``"1d"`` -> a Timedelta; anything else is a ConfigError."""
    import pandas as pd

    count, unit = check_timeframe(name)
    return pd.Timedelta(count, unit=unit)


def timeframe_name(delta: pd.Timedelta) -> str:
    """The inverse of :func:`parse_timeframe` for whole minutes, hours or days."""
    import pandas as pd

    minutes = int(delta / pd.Timedelta(minutes=1))
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"
