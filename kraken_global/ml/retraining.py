"""Retraining in the daily downtime: a backtrader timer starts it, it never promotes.

:class:`DowntimeRetrainer` is a non-trading strategy that joins the trading strategies in a cerebro (paper and
live runs add it); when the schedule enters DOWNTIME it calls its job. :class:`RetrainJob` trains a candidate on
the data known by then (sessions give it a config that joins their candle record, ``data.recorded``; up to the end
of the previous UTC day, so no bar of the current day can leak in) and
runs the gates on it; the result waits in the registry for a person to promote it. In live trading the job runs
in a background thread so that the feed keeps flowing; in a backtest it runs inline.

:func:`load_trading_model` is how paper and live get their model: only the approved one, vouched for by the
registry's keyed audit chain and verified by hash; anything else refuses to start with the reason.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kraken_global.config import BacktestConfig
from kraken_global.errors import KrakenGlobalError
from kraken_global.registry import ModelRegistry, RegistryError
from kraken_global.registry.store import Approved
from kraken_global.schedule import TradingState
from kraken_global.strategies.base import KrakenStrategy

log = logging.getLogger(__name__)


class ModelRefused(KrakenGlobalError):
    """Trading may not start: no approved model, or the approved one fails verification."""


def load_trading_model(registry: ModelRegistry) -> tuple[Any, dict[str, Any]]:
    """The approved model and manifest, checked as :meth:`ModelRegistry.approved_model` does; raises
    :class:`ModelRefused` otherwise."""
    approved = load_trading_approval(registry)
    return approved.model, approved.manifest


def load_trading_approval(registry: ModelRegistry) -> Approved:
    """The approved model, its manifest and what outputs must say about it (:meth:`ModelRegistry.approved`);
    raises :class:`ModelRefused` when it may not trade."""
    try:
        return registry.approved()
    except RegistryError as exc:
        raise ModelRefused(f"refusing to start trading: {exc}") from None


@dataclass
class RetrainJob:
    """Train + gates on the data known at ``when``; results are kept in :attr:`results`."""

    config: BacktestConfig
    registry: ModelRegistry
    background: bool = True
    skip_while_running: bool = False  # live: a retrain still running when the next downtime starts is not doubled
    results: list[dict[str, Any]] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __call__(self, when: datetime) -> None:
        if self.skip_while_running and any(t.is_alive() for t in self._threads):
            log.warning("retraining for %s skipped: the previous one is still running", when)
            self.results.append({"started_for": str(when), "skipped": "the previous retraining is still running"})
            return
        if self.background:
            thread = threading.Thread(target=self._run, args=(when,), name=f"retrain-{when:%Y%m%d}")
            self._threads.append(thread)
            thread.start()
        else:
            self._run(when)

    def _run(self, when: datetime) -> None:
        from kraken_global.gating.candidates import train_candidate
        from kraken_global.gating.gates import run_gates

        known_until = (when - timedelta(days=1)).date()
        config = self.config.with_overrides({"data.end": str(known_until)})
        record: dict[str, Any] = {"started_for": str(when), "data_until": str(known_until)}
        try:
            candidate = train_candidate(config, self.registry)
            report = run_gates(config, candidate, self.registry)
            record.update(candidate=candidate, passed=report["passed"])
        except Exception as exc:  # a failed retrain is recorded and reported, and trading goes on
            record.update(error=f"{type(exc).__name__}: {exc}")
            log.error("retraining for %s failed: %s", when, record["error"])
        self.results.append(record)

    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def wait(self, timeout: float | None = None) -> None:
        for thread in self._threads:
            thread.join(timeout)


class DowntimeRetrainer(KrakenStrategy):
    """Calls ``job(when)`` each time the schedule enters DOWNTIME on a live bar; places no orders.

    Downtimes crossed while a live feed replays its history (status DELAYED) are past: retraining for each of them
    would start dozens of jobs in the first minute. At most one job per downtime window (one UTC day)."""

    params = (("job", None),)
    trades = False

    def __init__(self) -> None:
        super().__init__()
        self.last_window = None

    def on_schedule(self, state: TradingState, when) -> None:
        if state is not TradingState.DOWNTIME or self.p.job is None or self.replaying:
            return
        if self.last_window == when.date():
            return
        self.last_window = when.date()
        self.p.job(when)

    def next(self) -> None:
        pass
