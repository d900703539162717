"""Kraken spot fee schedules: maker/taker rates by 30-day USD trading volume.

Kraken charges the maker rate to an order that rested in the book and the taker rate to one that took
liquidity. The rate depends on the account's trailing 30-day volume, so the paper broker asks
:meth:`FeeSchedule.rates` with the volume it has traded so far.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeeTier:
    """From ``min_volume`` USD of 30-day volume on, these rates apply (fractions, 0.0016 = 0.16%)."""

    min_volume: float
    maker: float
    taker: float


@dataclass(frozen=True)
class FeeSchedule:
    """Ordered fee tiers; the first tier must start at volume 0."""

    name: str
    tiers: tuple[FeeTier, ...]

    def __post_init__(self) -> None:
        if not self.tiers or self.tiers[0].min_volume != 0:
            raise ValueError(f"fee schedule {self.name!r}: the first tier must start at volume 0")
        volumes = [t.min_volume for t in self.tiers]
        if volumes != sorted(set(volumes)):
            raise ValueError(f"fee schedule {self.name!r}: tiers must have strictly increasing min_volume")
        for tier in self.tiers:
            if not (0 <= tier.maker <= 0.1 and 0 <= tier.taker <= 0.1):
                raise ValueError(f"fee schedule {self.name!r}: rates are fractions between 0 and 0.1")

    def tier_for(self, volume_30d: float) -> FeeTier:
        chosen = self.tiers[0]
        for tier in self.tiers:
            if volume_30d >= tier.min_volume:
                chosen = tier
        return chosen

    def rates(self, volume_30d: float) -> tuple[float, float]:
        """(maker, taker) for an account with ``volume_30d`` USD traded in the last 30 days."""
        tier = self.tier_for(volume_30d)
        return tier.maker, tier.taker

    @classmethod
    def flat(cls, maker: float, taker: float) -> FeeSchedule:
        return cls("flat", (FeeTier(0.0, maker, taker),))


def _tiers(*rows: tuple[float, float, float]) -> tuple[FeeTier, ...]:
    return tuple(FeeTier(volume, maker / 100, taker / 100) for volume, maker, taker in rows)


# Kraken's older schedule: its first tier is the user's default 0.16% maker / 0.26% taker.
KRAKEN_LEGACY = FeeSchedule("kraken-legacy", _tiers(
    (0, 0.16, 0.26), (50_000, 0.14, 0.24), (100_000, 0.12, 0.22), (250_000, 0.10, 0.20),
    (500_000, 0.08, 0.18), (1_000_000, 0.06, 0.16), (2_500_000, 0.04, 0.14), (5_000_000, 0.02, 0.12),
    (10_000_000, 0.00, 0.10),
))

# Kraken Pro's current schedule.
KRAKEN_PRO = FeeSchedule("kraken-pro", _tiers(
    (0, 0.25, 0.40), (10_000, 0.20, 0.35), (50_000, 0.14, 0.24), (100_000, 0.12, 0.22),
    (500_000, 0.08, 0.18), (10_000_000, 0.00, 0.10),
))

PRESETS: dict[str, FeeSchedule] = {s.name: s for s in (KRAKEN_LEGACY, KRAKEN_PRO)}

# The schedule a new Kraken Pro account pays today: cost stress runs every result under it.
CURRENT_KRAKEN_PRESET = "kraken-pro"
