"""The gate policy: what a candidate must show to be promoted, owned by the registry namespace, not by a config.

A config could otherwise loosen the gates (a lower ``min_sharpe``) or shorten the out-of-sample period until a
lucky Sharpe appears. So the policy lives in the namespace (``policy.json``, its every version in the audit
chain), is created with safe defaults on first use, and changes only through ``kraken-global policy set ...
--confirm yes-change-policy``. A config may ask for stricter gates, never looser ones; the report records the
policy's hash and ``promote`` refuses a report made under another policy.

Extending (issue #13, champion/challenger): add a field with a default that keeps today's behaviour, say in
:data:`STRICTER` which direction is stricter, and read it in the gate that uses it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_sharpe: float = 0.5
    max_drawdown_pct: float = Field(default=15.0, gt=0, le=100)
    max_tail_loss_pct: float = Field(default=5.0, gt=0, le=100)
    max_turnover: float = Field(default=2.0, gt=0)
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

    @model_validator(mode="after")
    def _long_enough(self) -> GatePolicy:
        needed = required_oos_days(self.min_sharpe, self.oos_windows)
        if self.min_oos_days < needed:
            raise ValueError(f"min_oos_days {self.min_oos_days} is shorter than the {needed} days a Sharpe threshold "
                             f"of {self.min_sharpe} over {self.oos_windows} window(s) needs")
        return self

    def canonical(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()

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


def parse_policy(values: dict[str, Any], where: str) -> GatePolicy:
    try:
        return GatePolicy.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg']}" for e in exc.errors())
        raise PolicyViolation(f"{where} is not a valid gate policy: {problems}") from None


# the direction in which each requested value is stricter: a config may ask for stricter gates, not looser
STRICTER: dict[str, str] = {"min_sharpe": "higher", "max_drawdown_pct": "lower", "max_tail_loss_pct": "lower",
                            "max_turnover": "lower", "min_dsr": "higher"}


def effective_thresholds(policy: GatePolicy, requested: dict[str, Any]) -> dict[str, Any]:
    """The thresholds a gates run uses: the config's ``gates`` values, each checked to be at least as strict as
    the policy's; ``oos_windows`` must equal the policy's. Raises :class:`PolicyViolation` naming every
    looser value and how to change the policy."""
    problems = []
    out = dict(requested)
    for key, direction in STRICTER.items():
        asked, allowed = requested[key], getattr(policy, key)
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
