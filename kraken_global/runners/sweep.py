"""Parameter sweeps: one backtest per point of a grid, streamed to disk as they finish, on Dask or serially.

Each point runs the same code as ``kraken-global backtest`` on its config, so a point's figures are exactly that
backtest's. What scales:

- the candles and the regime plan are loaded and computed once on the driver for the points the grid will need
  (:class:`~kraken_global.assembly.inputs.RunInputs`) and sent to each worker once, not reloaded per point;
- the grid is read lazily and at most a few points per worker are in flight, so memory does not grow with the
  grid; finished points are appended to ``points.jsonl`` in small batches (:mod:`.sweep_store`), so an
  interrupted sweep, run again, resumes where it stopped;
- progress starts at once, with the grid's size known before the first point runs.

A combination the config refuses (``fast`` not below ``slow``, say) is recorded with its reason and skipped; the
first point must be valid, so that a wrong key is refused before anything runs. Every finished point is a trial
in the registry's ledger (:mod:`.trials`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kraken_global.assembly.inputs import RunInputs
from kraken_global.config import BacktestConfig, dump_config
from kraken_global.distributed import share, stream_tasks
from kraken_global.errors import InsufficientEvidence, KrakenGlobalError
from kraken_global.research.costs import return_figures
from kraken_global.research.objectives import best_column
from kraken_global.research.pbo import pbo
from kraken_global.runners.grid import Grid, check_grid_size
from kraken_global.runners.stress import monte_carlo, or_refusal
from kraken_global.runners.sweep_store import SweepStore, daily_fields, point_sha256
from kraken_global.runners.trials import SweepTrials, deflated_statistics, open_ledger

REPORTED = ("total_return_pct", "sharpe", "max_drawdown_pct", "tail_loss_pct")
MAX_PREPARED = 256  # data loads and plans prepared on the driver; workers compute the rest themselves
MAX_PREPARED_BYTES = 256 * 1024 ** 2  # ... and no more than this much of candles, which every worker holds
FLUSH_POINTS, FLUSH_SECONDS = 64, 10.0  # the most finished points held before they are written


@dataclass(frozen=True)
class SweepInputs:
    """What every point of a sweep shares: the base config and the prepared candles and plans."""

    config: BacktestConfig
    inputs: RunInputs


def evaluate_point(job: tuple[SweepInputs, int, dict[str, Any]]) -> dict[str, Any]:
    """One point's record: its figures and daily returns, or why the config refused it."""
    from kraken_global.runners.backtest import run_backtest

    shared, point, overrides = job
    record: dict[str, Any] = {"point": point, "overrides": overrides}
    try:
        config = shared.config.with_overrides(overrides)
        result = run_backtest(config, with_baseline=False, inputs=shared.inputs)
    except KrakenGlobalError as exc:  # refused by the config, or a period too short for this point's warm-up
        return {**record, "error": str(exc)}
    performance, trading = result.metrics["performance"], result.metrics["trading"]
    figures = {**{k: performance[k] for k in REPORTED}, "turnover": trading["turnover"],
               "round_trips": trading["round_trips"], "fees_paid": trading["fees_paid"]}
    return {**record, "figures": figures, **daily_fields(result.daily_returns())}


def sweep_manifest(config: BacktestConfig, grid: Grid) -> dict[str, Any]:
    """What a sweep folder holds: the base config, the grid, and the identity a resumed run must match (the
    trading configuration, the seed and the grid; not where results or the cluster are)."""
    from kraken_global.canonical import canonical_sha256
    from kraken_global.gating.candidates import trading_system

    identity = canonical_sha256({"system": trading_system(config), "seed": config.run.seed, "grid": grid.to_dict()})
    return {"identity": identity, "grid": grid.to_dict(), "points": grid.size, "config": dump_config(config)}


def prepare_inputs(config: BacktestConfig, grid: Grid) -> RunInputs:
    """Load on the driver what the first point and each one-value change of it need (at most
    :data:`MAX_PREPARED`): for most grids every input of every point."""
    inputs = RunInputs()
    first = grid.point(0)
    variations = [first] + [{**first, key: value} for key, values in grid.axes for value in values[1:]]
    for overrides in variations:
        if inputs.prepared >= MAX_PREPARED or inputs.prepared_bytes >= MAX_PREPARED_BYTES:
            break
        try:
            inputs.prepare(config.with_overrides(overrides))
        except KrakenGlobalError:
            continue  # that point records its own error
    return inputs


def run_sweep(config: BacktestConfig, grid: Grid, out: Path, client=None,
              on_done: Callable[[int, int], None] | None = None) -> SweepStore:
    """Run every point of ``grid`` not yet in ``out`` and return the folder's store.

    Finished points are written a batch at a time (the trials first, then the points, so that a point on disk is
    always in the ledger): a batch is at most a hundredth of the grid (1 to :data:`FLUSH_POINTS` points) or
    :data:`FLUSH_SECONDS` of work, and what finished is written on Ctrl-C too; a killed sweep loses at most one
    batch, which it runs again when resumed."""
    check_grid_size(grid, config.run.max_grid_points)
    config.with_overrides(grid.point(0))  # a wrong key is refused here, before anything runs
    store = SweepStore(out)
    manifest = sweep_manifest(config, grid)
    with store.writing(manifest) as writer:
        done = store.done_points()
        trials = SweepTrials(config)
        if done:
            refuse_unvouched_points(store, manifest["identity"], trials.ledger)
        finished = len(done)
        if on_done is not None:
            on_done(finished, grid.size)
        if finished == grid.size:
            return store
        batch: list[dict[str, Any]] = []
        flushed = time.monotonic()
        limit = min(FLUSH_POINTS, max(1, grid.size // 100))

        def flush() -> None:
            if not batch:
                return
            trials.record([(r["overrides"], r["figures"]["sharpe"]) for r in batch if r.get("error") is None],
                          {"sweep": manifest["identity"], "lines": {str(r["point"]): point_sha256(r) for r in batch}})
            for record in batch:
                writer.append(record)
            batch.clear()

        shared = share(client, SweepInputs(config, prepare_inputs(config, grid)))
        todo = ((shared, point, overrides) for point, overrides in enumerate(grid) if point not in done)
        try:
            for _, record in stream_tasks(evaluate_point, todo, client, label="sweep"):
                batch.append(record)
                finished += 1
                if on_done is not None:
                    on_done(finished, grid.size)
                if len(batch) >= limit or time.monotonic() - flushed >= FLUSH_SECONDS:
                    flush()
                    flushed = time.monotonic()
        finally:
            flush()
    return store


def refuse_unvouched_points(store: SweepStore, identity: str, ledger) -> None:
    """Refuse a sweep folder holding points the registry's ledger does not vouch for.

    A sweep resumes from its folder, outside the registry, and every point found there is skipped and read as it
    is: its figures pick ``optimize``'s point in each window and the best row of ``sweep``, and make the PBO. Lines
    planted or edited there (returns moved, a strong rival marked as refused) gave made-up evidence. The ledger
    vouches for the SHA256 of every line a sweep wrote (:meth:`~kraken_global.registry.trials.TrialLedger.
    vouched_lines`); any other line refuses the resume, before anything runs or is summed up."""
    from kraken_global.registry.errors import IntegrityError

    unvouched = store.unvouched(ledger.vouched_lines(identity))
    if unvouched:
        raise IntegrityError(f"the sweep in {store.folder} holds {len(unvouched)} point(s) the registry's ledger does "
                             f"not vouch for (point {unvouched[0]} first): edited, planted, or run before sweeps were "
                             "vouched for. It is not resumed from them: delete the folder or choose another --out")


def sweep_overview(store: SweepStore, grid: Grid, days: pd.DatetimeIndex) -> dict[str, Any]:
    """How much of the grid ran, what the config refused, and the days the points share."""
    finished, refused, reasons = store.refusals()
    return {"grid": grid.to_dict(), "points": grid.size, "finished": finished, "refused": refused,
            "refusals": reasons[:5], "days": len(days), "first_day": str(days[0].date()) if len(days) else None,
            "last_day": str(days[-1].date()) if len(days) else None}


def sweep_summary(store: SweepStore, config: BacktestConfig, grid: Grid) -> dict[str, Any]:
    """The sweep's ``metrics.json``: its best row by ``research.objective`` (with PSR and the DSR over the trial
    ledger, and a Monte Carlo of its days), and the PBO of choosing it."""
    days, points, matrix = store.returns_matrix()
    summary = {**sweep_overview(store, grid, days), "objective": config.research.objective}
    if not points:
        return summary
    best = best_column(matrix, config.research.objective)
    returns = matrix[:, best]
    summary["best"] = {"point": points[best], "overrides": grid.point(points[best]), **return_figures(returns),
                       "statistics": deflated_statistics(open_ledger(config), returns)}
    summary["monte_carlo"] = or_refusal(lambda: monte_carlo(config, returns).to_dict())
    summary["pbo"] = or_refusal(lambda: pbo(matrix, config.research.pbo_splits).to_dict())
    return summary


def point_returns(store: SweepStore, point: int) -> np.ndarray:
    """The daily returns of one finished point."""
    for record in store.records():
        if record["point"] == point:
            if record.get("error") is not None:
                raise InsufficientEvidence(f"point {point} did not run: {record['error']}")
            return np.asarray(record["daily_returns"], dtype=float)
    raise InsufficientEvidence(f"point {point} has not finished in {store.folder}: run the sweep again to "
                               "complete it")
