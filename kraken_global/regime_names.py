"""The four regimes, apart from the detector's maths: configs and the slot selection name them without numpy."""

from __future__ import annotations

import enum


class Regime(enum.IntEnum):
    """Ordered by risk appetite; the integer is what the feeds' ``regime`` line carries."""

    PANIC = 0
    RISK_OFF = 1
    NEUTRAL = 2
    RISK_ON = 3

    @property
    def label(self) -> str:
        return self.name
