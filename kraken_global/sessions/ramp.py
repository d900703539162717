"""The capital ramp: the bot's share of its budget grows step by step, only while its record earns it.

``live.capital.ramp`` lists ``shares`` of the budget (``live.capital.budget_usd``, else the session's value when
the ramp began). The bot starts at the first share; after ``step_days`` of market time at a share, it moves to
the next one only if, over that step:

- the session's drawdown (from the step's peak value) stayed within ``max_drawdown_pct``;
- the kill switch never tripped;
- the fills' execution gap against the backtest's fill model (price against the reference close, beyond
  ``broker.slippage_bps``, in basis points of notional: what ``kraken-global parity`` measures per fill) stayed
  within ``parity_tolerance_bps``.

Otherwise it holds the share and starts a new step: a clean step must be earned in full. Each step and each hold is
logged (a step with ``kg_event="ramp_step"``, so it alerts) and written to the session's audit trail. The ramp's
record (one per mode, paper and live apart) is kept in ``ramp.state`` so it survives restarts; the current share
caps what the broker lets the bot hold (:class:`~kraken_global.sessions.brokers.SessionRules`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kraken_global.alerts import event_extra
from kraken_global.errors import ConfigError
from kraken_global.sessions.audit_trail import AuditTrail
from kraken_global.sessions.status import write_atomically

log = logging.getLogger("kraken_global.session")


@dataclass
class RampRecord:
    """The ramp's state and the record of its current step."""

    step: int = 0
    share: float = 0.0
    base_usd: float | None = None
    step_started: str | None = None  # market time of the step's first bar
    peak: float = 0.0
    drawdown_pct: float = 0.0  # the step's largest
    kill_switch: bool = False
    notional: float = 0.0  # of the step's fills
    gap_usd: float = 0.0  # their cost beyond the backtest's fill model
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gap_bps(self) -> float:
        return self.gap_usd / self.notional * 1e4 if self.notional > 0 else 0.0


def ramp_verdict(record: RampRecord, ramp, now: datetime) -> tuple[str, list[str]]:
    """``("top", [])`` at the last share, ``("wait", [])`` before the step's end, else ``("step", [])`` or
    ``("hold", reasons)``. ``ramp``: a :class:`~kraken_global.config.capital.RampConfig`."""
    if record.step >= len(ramp.shares) - 1:
        return "top", []
    if record.step_started is None or now - datetime.fromisoformat(record.step_started) < timedelta(
            days=ramp.step_days):
        return "wait", []
    reasons = []
    if record.drawdown_pct > ramp.max_drawdown_pct:
        reasons.append(f"drawdown {record.drawdown_pct:.2f}% above {ramp.max_drawdown_pct:g}%")
    if record.kill_switch:
        reasons.append("the kill switch tripped")
    if ramp.parity_tolerance_bps is not None and record.gap_bps > ramp.parity_tolerance_bps:
        reasons.append(f"fills {record.gap_bps:.1f} bps beyond the fill model (tolerance "
                       f"{ramp.parity_tolerance_bps:g})")
    return ("hold", reasons) if reasons else ("step", [])


class CapitalRamp:
    """One mode's ramp: :meth:`observe` at each live bar, :meth:`cap_usd` for the broker."""

    def __init__(self, capital, mode: str, model_slippage_bps: float, trail: AuditTrail | None = None) -> None:
        self.config = capital.ramp
        self.budget = capital.budget_usd
        self.mode = mode
        self.model_bps = model_slippage_bps
        self.trail = trail
        self.path = Path(self.config.state)
        self.record = self._load()
        self._fills_seen = 0
        self._trips = 0

    def _load(self) -> RampRecord:
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read the capital ramp's state {self.path}: {exc}; restore it from a backup "
                              f"(or delete it to start the ramp again at its first share)") from None
        mine = stored.get(self.mode) if isinstance(stored, dict) else None
        if not isinstance(mine, dict):
            return RampRecord(share=self.config.shares[0])
        record = RampRecord(**{k: v for k, v in mine.items() if k in RampRecord.__dataclass_fields__})
        if record.step >= len(self.config.shares) or self.config.shares[record.step] != record.share:
            # the schedule changed: keep the largest configured share that does not exceed the one earned
            earned = [i for i, s in enumerate(self.config.shares) if s <= record.share + 1e-12]
            record.step = earned[-1] if earned else 0
            log.warning("capital ramp: the configured shares changed; continuing at %.0f%% (earned %.0f%%)",
                        self.config.shares[record.step] * 100, record.share * 100)
            record.share = self.config.shares[record.step]
        if self.budget is not None:
            record.base_usd = self.budget
        return record

    def _save(self) -> None:
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
        except (OSError, ValueError):
            stored = {}
        stored = stored if isinstance(stored, dict) else {}
        stored[self.mode] = asdict(self.record)
        write_atomically(self.path, json.dumps(stored, indent=2, sort_keys=True) + "\n")

    def cap_usd(self, value: float | None = None) -> float:
        """What the bot may hold now. Without a budget the base is the portfolio ``value`` when the ramp first
        needs one (its first live bar, or its first order, whichever comes first)."""
        if self.record.base_usd is None:
            if value is None:
                return 0.0
            self.record.base_usd = value
        return self.record.share * self.record.base_usd

    def observe(self, when: datetime, value: float, kill_switch_trips: int, fills: list) -> None:
        """One live bar: ``value`` of the portfolio, the broker's kill-switch trip count, all its fills so far."""
        record = self.record
        self.cap_usd(value)  # the base, if not known yet
        if record.step_started is None:
            self._start_step(when, value)
        record.peak = max(record.peak, value)
        if record.peak > 0:
            record.drawdown_pct = max(record.drawdown_pct, (record.peak - value) / record.peak * 100)
        if kill_switch_trips > self._trips:
            record.kill_switch = True
        self._trips = kill_switch_trips
        for fill in fills[self._fills_seen:]:
            model_cost = fill.notional * self.model_bps / 1e4
            record.notional += fill.notional
            record.gap_usd += fill.slippage_cost - model_cost
        self._fills_seen = len(fills)
        verdict, reasons = ramp_verdict(record, self.config, when)
        if verdict == "step":
            self._step(when, value)
        elif verdict == "hold":
            self._hold(when, value, reasons)
        self._save()

    def _start_step(self, when: datetime, value: float) -> None:
        record = self.record
        record.step_started = when.isoformat()
        record.peak, record.drawdown_pct, record.kill_switch = value, 0.0, False
        record.notional = record.gap_usd = 0.0

    def _step(self, when: datetime, value: float) -> None:
        record = self.record
        before = record.share
        record.step += 1
        record.share = self.config.shares[record.step]
        facts = {"from_share": before, "to_share": record.share, "cap_usd": round(self.cap_usd(), 2),
                 "drawdown_pct": round(record.drawdown_pct, 3), "gap_bps": round(record.gap_bps, 2),
                 "market_time": when.isoformat(), "mode": self.mode}
        record.history.append({"action": "step", **facts})
        log.warning("capital ramp: step up from %.0f%% to %.0f%% of %.2f USD (cap %.2f USD): %g days with "
                    "drawdown %.2f%%, no kill switch, fills %.1f bps from the model", before * 100,
                    record.share * 100, record.base_usd, self.cap_usd(), self.config.step_days, record.drawdown_pct,
                    record.gap_bps, extra=event_extra("ramp_step", **facts))
        if self.trail is not None:
            self.trail.append("ramp_step", "capital ramp", **facts)
        self._start_step(when, value)

    def _hold(self, when: datetime, value: float, reasons: list[str]) -> None:
        record = self.record
        facts = {"share": record.share, "reasons": reasons, "market_time": when.isoformat(), "mode": self.mode}
        record.history.append({"action": "hold", **facts})
        log.warning("capital ramp: holding at %.0f%% after %g days: %s; a new step begins", record.share * 100,
                    self.config.step_days, "; ".join(reasons))
        if self.trail is not None:
            self.trail.append("ramp_hold", "capital ramp", **facts)
        self._start_step(when, value)

    def status(self) -> dict[str, Any]:
        """For ``status`` and the dashboard."""
        record, config = self.record, self.config
        following = config.shares[record.step + 1] if record.step + 1 < len(config.shares) else None
        next_at = None
        if following is not None and record.step_started is not None:
            next_at = (datetime.fromisoformat(record.step_started) + timedelta(days=config.step_days)).isoformat()
        return {"share": record.share, "step": record.step + 1, "steps": len(config.shares),
                "base_usd": record.base_usd, "cap_usd": self.cap_usd() if record.base_usd is not None else None,
                "next_share": following, "next_step_at": next_at, "drawdown_pct": round(record.drawdown_pct, 4),
                "max_drawdown_pct": config.max_drawdown_pct, "kill_switch": record.kill_switch,
                "gap_bps": round(record.gap_bps, 3), "parity_tolerance_bps": config.parity_tolerance_bps,
                "last": record.history[-1] if record.history else None}


def capital_cap(capital, ramp: CapitalRamp | None):
    """The broker's cap, a function of the portfolio's value now: the ramp's share of the budget, else the budget
    itself, else None (no cap)."""
    if ramp is not None:
        return ramp.cap_usd
    if capital.budget_usd is not None:
        return lambda value: capital.budget_usd
    return None
