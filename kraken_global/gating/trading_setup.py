"""The gates' trading setup: what their backtests trade with, recorded in the report and held to the policy.

A gates run trades the candidate through the config's broker on the config's data. Left to the config, zero fees
lift an out-of-sample Sharpe of 0.13 to 0.71, and a data folder can hold anything. So the report records the
setup (the trading configuration of :mod:`kraken_global.config.fingerprint`, its SHA256, and a fingerprint of
the data: per pair the file, first and last bar, bar count and the SHA256 of the candles read), and the policy
sets the floor: fees at least an exchange schedule at every volume, slippage at least ``min_slippage_bps``,
fills capped at ``max_volume_share`` of a bar's volume, and when ``data_sha256`` is set, exactly that data set.
A looser setup is refused like looser thresholds (:class:`~kraken_global.gating.policy.PolicyViolation`, exit 2),
before any backtest.
"""

from __future__ import annotations

from typing import Any

from kraken_global.canonical import canonical_sha256
from kraken_global.config import BacktestConfig
from kraken_global.config.fingerprint import trading_fingerprint, trading_setup
from kraken_global.feeds.fingerprint import candles_fingerprint
from kraken_global.fees import PRESETS, FeeSchedule
from kraken_global.gating.policy import POLICY_WORD, GatePolicy, PolicyViolation


def data_fingerprint(data) -> dict[str, Any]:
    """Per pair the file, range, bar count and SHA256 of the OHLCV values read (float64 bytes), and one SHA256 of
    them all: the same data gives the same fingerprint whatever folder or format it came from."""
    pairs = {symbol: candles_fingerprint(frame) for symbol, frame in sorted(data.candles.items())}
    return {"sha256": canonical_sha256(pairs),
            "pairs": {symbol: {**found, "file": data.files.get(symbol)} for symbol, found in pairs.items()}}


def setup_record(config: BacktestConfig, data) -> dict[str, Any]:
    """The report's ``trading_setup`` block."""
    return {"sha256": trading_fingerprint(config), "setup": trading_setup(config), "data": data_fingerprint(data)}


def _fees_below(schedule: FeeSchedule, floor: FeeSchedule) -> str | None:
    """The first volume at which ``schedule`` charges less than ``floor`` (maker or taker), as text."""
    for volume in sorted({t.min_volume for t in (*schedule.tiers, *floor.tiers)}):
        (maker, taker), (floor_maker, floor_taker) = schedule.rates(volume), floor.rates(volume)
        if maker < floor_maker or taker < floor_taker:
            return (f"broker.fees {schedule.name} charges {maker:.4%} maker / {taker:.4%} taker from {volume:,.0f} "
                    f"USD of 30-day volume, below the policy's fee_floor {floor.name} ({floor_maker:.4%} / "
                    f"{floor_taker:.4%})")
    return None


def check_setup(policy: GatePolicy, config: BacktestConfig, data_sha256: str | None = None) -> None:
    """Refuse a trading setup looser than the policy's floor, naming every looser value and how to change the
    policy. ``data_sha256``: the fingerprint of the data read (checked only when the policy pins one)."""
    problems = []
    broker = config.broker
    if policy.fee_floor is not None:
        below = _fees_below(broker.fees.schedule(), PRESETS[policy.fee_floor])
        if below:
            problems.append(below)
    if broker.slippage_bps < policy.min_slippage_bps:
        problems.append(f"broker.slippage_bps {broker.slippage_bps:g} is below the policy's min_slippage_bps "
                        f"{policy.min_slippage_bps:g}")
    if policy.max_volume_share is not None and (broker.volume_share is None or
                                                broker.volume_share > policy.max_volume_share):
        problems.append(f"broker.volume_share {broker.volume_share} lets a fill take more of a bar's volume than the "
                        f"policy's max_volume_share {policy.max_volume_share:g}")
    if policy.data_sha256 is not None and data_sha256 is not None and data_sha256 != policy.data_sha256:
        problems.append(f"the data read has fingerprint {data_sha256[:16]}, not the data set the policy pins "
                        f"(data_sha256 {policy.data_sha256[:16]}): check data.directory, data.start and data.end")
    if problems:
        raise PolicyViolation("the config's trading setup is looser than the registry's policy: "
                              + "; ".join(problems) + ". Trade the gates at the exchange's costs, or change the "
                              f"policy with `kraken-global policy set KEY=VALUE --confirm {POLICY_WORD}` (recorded in "
                              "the audit log)")
