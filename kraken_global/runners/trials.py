"""Research and the registry's trial ledger, in one place: every sweep point is a trial, and the best row of a
sweep is deflated by all the trials the ledger holds.

A sweep of 200 points that reports its best Sharpe has tried 200 times; the Deflated Sharpe Ratio says how much
of that Sharpe the trying explains. Points are recorded as they finish (a resumed sweep records only the new
ones; the ledger counts the same configuration once however often it is recorded). The ledger lives in the
registry's keyed audit chain, so points are written a batch at a time (:func:`.sweep.run_sweep`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kraken_global.config import BacktestConfig


class SweepTrials:
    """Records a sweep's points in the trial ledger of ``config``'s registry namespace, several at a time (each
    write is a signed entry of the audit chain): each point is its trading configuration with the model it traded
    (the approved one with ``ml.use_model: approved``, else none)."""

    def __init__(self, config: BacktestConfig) -> None:
        from kraken_global.gating.candidates import registry_for
        from kraken_global.registry.trials import TrialLedger

        registry = registry_for(config)
        approved = registry.state().get("approved") if config.ml.use_model == "approved" else None
        self.model_sha = approved.get("sha256") if approved else None
        self.ledger = TrialLedger(registry)
        self.config = config

    def record(self, points: list[tuple[dict[str, Any], float]], sweep_points: dict[str, Any] | None = None) -> None:
        """``(overrides, sharpe)`` of finished points, and ``sweep_points`` (the SHA256 of each line the sweep
        folder gets: see :meth:`TrialLedger.record_many`), in one audited write."""
        from kraken_global.gating.candidates import trading_system

        self.ledger.record_many("sweep", [
            (self.model_sha, trading_system(self.config.with_overrides(overrides)), sharpe,
             ",".join(f"{k}={v}" for k, v in overrides.items())) for overrides, sharpe in points], sweep_points)


def open_ledger(config: BacktestConfig):
    """The trial ledger of ``config``'s registry namespace."""
    from kraken_global.gating.candidates import registry_for
    from kraken_global.registry.trials import TrialLedger

    return TrialLedger(registry_for(config))


def deflated_statistics(ledger, daily_returns: Sequence[float]) -> dict[str, Any]:
    """PSR and DSR of ``daily_returns`` over every trial in the ledger now (not frozen: a sweep's best row is not
    a candidate, and the next sweep's trials should deflate it further)."""
    from kraken_global.gating.performance import trust_statistics
    from kraken_global.registry.trials import DsrBasis

    trials = ledger.trials()
    sharpes = tuple(float(t["sharpe"]) for t in trials.values() if t.get("sharpe") is not None)
    return trust_statistics(daily_returns, DsrBasis(max(len(trials), 1), sharpes, len(ledger.entries())))
