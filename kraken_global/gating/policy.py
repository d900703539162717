"""The gate policy: what a candidate must show to be promoted, owned by the registry namespace, not by a config.

A config could otherwise loosen the gates (a lower ``min_sharpe``) or shorten the out-of-sample period until a
lucky Sharpe appears. So the policy lives in the namespace (``policy.json``, its every version in the audit
chain), is created with safe defaults on first use, and changes only through ``kraken-global policy set ...
--confirm yes-change-policy``. A config may ask for stricter gates, never looser ones; the report records the
policy's hash and ``promote`` refuses a report made under another policy.

Every value is finite (``nan`` or ``1e309`` would make every comparison pass or fail silently). The policy also
sets the floor of the gates' trading setup (:mod:`kraken_global.gating.trading_setup`): fees no lower than an
exchange schedule, slippage no lower than ``min_slippage_bps``, fills capped at ``max_volume_share`` of a bar's
volume, and optionally the one data set the gates may use (``data_sha256``). :func:`looser_than_defaults` says
how a policy is looser than the safe defaults, for every output that names the policy.

Extending: add a field with a default that keeps today's behaviour (existing namespaces record it as a change at
their next use), say in :data:`POLICY_STRICTER` which direction is stricter, and read it where it applies.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kraken_global.canonical import canonical_sha256
from kraken_global.errors import ConfigError

POLICY_WORD = "yes-change-policy"
MIN_OOS_DAYS_FLOOR = 90  # an annualized daily Sharpe over less than a quarter is mostly noise
MIN_DAYS_PER_WINDOW = 30


class PolicyViolation(ConfigError):
    """A gates run asked for looser gates, or a shorter out-of-sample period, than the registry's policy; or a
    policy change is not a valid policy. Bad input: exit code 2 on the command line."""


def required_oos_days(min_sharpe: float, oos_windows: int) -> int:
    """The least out-of-sample days a policy may ask for: a quarter, a month per window, and for a positive Sharpe
    threshold ``90 / min_sharpe`` days up to a year (180 for 0.5): the smaller the edge asked for, the longer the
    record must be. This is a floor against cherry-picked short periods, not a significance test (that would take
    years of data: the report's PSR and minimum track record length say how much the Sharpe can be trusted)."""
    floor = max(MIN_OOS_DAYS_FLOOR, MIN_DAYS_PER_WINDOW * oos_windows)
    if min_sharpe > 0:
        floor = max(floor, min(365, int(90 / min_sharpe)))
    return floor


class GatePolicy(BaseModel):
    """Thresholds and rules every gates run in the namespace is held to (defaults: the safe ones)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    min_sharpe: float = Field(default=0.5, ge=-100, le=100)
    max_drawdown_pct: float = Field(default=15.0, gt=0, le=100)
    max_tail_loss_pct: float = Field(default=5.0, gt=0, le=100)
    max_turnover: float = Field(default=2.0, gt=0, le=1e6)
    oos_windows: int = Field(default=2, ge=1, le=12)
    min_oos_days: int = Field(default=180, ge=1)
    dsr_gate: bool = True
    min_dsr: float = Field(default=0.95, ge=0, le=1)
    # champion/challenger: the candidate must beat the system without a model and the approved model, judged on the
    # daily difference of returns: P(Sharpe of the difference > champion_margin) >= champion_confidence.
    # None switches the comparison off (only through the audited policy command).
    champion_margin: float | None = Field(default=0.0, ge=0)
    champion_confidence: float = Field(default=0.9, ge=0.5, lt=1)
    require_survive_without_best_day: bool = True
    min_shadow_days: int = Field(default=0, ge=0, le=3650)
    # the gates' trading setup: fees at least this exchange schedule at every volume (None: no floor), slippage at
    # least min_slippage_bps, fills at most max_volume_share of a bar's volume (None: no cap required), and when
    # set, exactly the data set with this fingerprint (the report's trading_setup.data.sha256)
    fee_floor: Literal["kraken-legacy", "kraken-pro", "kraken-2026-07"] | None = "kraken-legacy"
    min_slippage_bps: float = Field(default=5.0, ge=0, le=1000)
    max_volume_share: float | None = Field(default=0.1, gt=0, le=1)
    data_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    # a trading configuration (``gates --trading-config``): the walk-forward's stitched out-of-sample Sharpe at
    # least config_min_oos_sharpe, PBO of its grid at most config_max_pbo, and when true: an edge that survives 2x
    # costs, a Sharpe above the SMA baseline's and above buy-and-hold's on the same out-of-sample days
    config_min_oos_sharpe: float = Field(default=0.5, ge=-100, le=100)
    config_max_pbo: float = Field(default=0.3, ge=0, le=1)
    config_survive_2x_costs: bool = True
    config_beat_baseline: bool = True
    config_beat_buy_and_hold: bool = True
    # gates runs of one configuration that may fail before a passing one no longer approves it: re-running with other
    # research settings (windows, PBO splits, grid, period) until it passes is how a backtest fools its author
    # (None: no cap, only through the audited policy command)
    config_max_failed_runs: int | None = Field(default=2, ge=0, le=1000)

    @model_validator(mode="after")
    def _long_enough(self) -> GatePolicy:
        needed = required_oos_days(self.min_sharpe, self.oos_windows)
        if self.min_oos_days < needed:
            raise ValueError(f"min_oos_days {self.min_oos_days} is shorter than the {needed} days a Sharpe threshold "
                             f"of {self.min_sharpe} over {self.oos_windows} window(s) needs")
        return self

    def sha256(self) -> str:
        return policy_hash(self.model_dump(mode="json"))

    def changed(self, assignments: dict[str, str]) -> GatePolicy:
        """A copy with ``KEY=VALUE`` changes (values as typed on the command line), validated again."""
        unknown = sorted(set(assignments) - set(type(self).model_fields))
        if unknown:
            raise PolicyViolation(f"unknown policy key(s) {', '.join(unknown)}; known: "
                                  f"{', '.join(type(self).model_fields)}")
        values: dict[str, Any] = self.model_dump()
        for key, text in assignments.items():
            values[key] = None if text.lower() in ("none", "null") else text
        return parse_policy(values, "the policy change")


def policy_hash(values: dict[str, Any]) -> str:
    """SHA256 of a policy's canonical JSON: how the audit chain names a policy."""
    return canonical_sha256(values)


def parse_policy(values: dict[str, Any], where: str) -> GatePolicy:
    try:
        return GatePolicy.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg']}" for e in exc.errors())
        raise PolicyViolation(f"{where} is not a valid gate policy: {problems}") from None


# the direction in which each requested value is stricter: a config may ask for stricter gates, not looser
STRICTER: dict[str, str] = {"min_sharpe": "higher", "max_drawdown_pct": "lower", "max_tail_loss_pct": "lower",
                            "max_turnover": "lower", "min_dsr": "higher"}


# how each policy value is stricter; None (a rule off, a cap lifted) is the loosest value of its key
POLICY_STRICTER: dict[str, str] = {**STRICTER, "min_oos_days": "higher", "champion_margin": "higher",
                                   "champion_confidence": "higher", "min_shadow_days": "higher",
                                   "min_slippage_bps": "higher", "max_volume_share": "lower",
                                   "dsr_gate": "true", "require_survive_without_best_day": "true",
                                   "fee_floor": "kraken-legacy < kraken-pro < kraken-2026-07",
                                   "config_min_oos_sharpe": "higher", "config_max_pbo": "lower",
                                   "config_survive_2x_costs": "true", "config_beat_baseline": "true",
                                   "config_beat_buy_and_hold": "true", "config_max_failed_runs": "lower"}
FEE_FLOOR_ORDER = (None, "kraken-legacy", "kraken-pro", "kraken-2026-07")


def looser_than_defaults(policy: GatePolicy) -> list[str]:
    """Each value of ``policy`` looser than the safe default's, as ``key value (default D)``; empty when none."""
    defaults = GatePolicy()
    out = []
    for key, direction in POLICY_STRICTER.items():
        value, default = getattr(policy, key), getattr(defaults, key)
        if value == default:
            continue
        if direction == "true":
            looser = not value
        elif key == "fee_floor":
            looser = FEE_FLOOR_ORDER.index(value) < FEE_FLOOR_ORDER.index(default)
        elif value is None or default is None:
            looser = value is None
        else:
            looser = value < default if direction == "higher" else value > default
        if looser:
            out.append(f"{key} {'none' if value is None else value} (default {default})")
    return out


def effective_thresholds(policy: GatePolicy, requested: dict[str, Any]) -> dict[str, Any]:
    """The thresholds a gates run uses: the config's ``gates`` values, each checked to be at least as strict as
    the policy's; ``oos_windows`` must equal the policy's. Raises :class:`PolicyViolation` naming every
    looser value and how to change the policy."""
    problems = []
    out = dict(requested)
    for key, direction in STRICTER.items():
        asked, allowed = requested[key], getattr(policy, key)
        if not math.isfinite(asked):
            problems.append(f"gates.{key} {asked} is not a finite number")
            continue
        looser = asked < allowed if direction == "higher" else asked > allowed
        if looser:
            problems.append(f"gates.{key} {asked} is looser than the policy's {allowed}")
    if policy.dsr_gate and not requested["dsr_gate"]:
        problems.append("gates.dsr_gate false, but the policy requires the Deflated Sharpe gate")
    out["dsr_gate"] = bool(requested["dsr_gate"] or policy.dsr_gate)
    if requested["oos_windows"] != policy.oos_windows:
        problems.append(f"gates.oos_windows {requested['oos_windows']} differs from the policy's {policy.oos_windows}")
    if problems:
        raise PolicyViolation("the config asks for looser gates than the registry's policy: " + "; ".join(problems)
                              + ". Use stricter values, or change the policy with `kraken-global policy set "
                              f"KEY=VALUE --confirm {POLICY_WORD}` (recorded in the audit log)")
    out["min_oos_days"] = policy.min_oos_days
    return out
