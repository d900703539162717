"""The reconciliation every run must pass: the round-trip ledger adds up to the change of the portfolio's value, in
total and partitioned by strategy, by pair and by regime; every fill says who placed it and why."""

from __future__ import annotations

import pandas as pd
import pytest

from kraken_global.order_reasons import NO_REGIME, PORTFOLIO, REASONS, UNSPECIFIED


def assert_books_add_up(metrics: dict, fills: pd.DataFrame, regime_system: bool = True) -> None:
    trading, performance = metrics["trading"], metrics["performance"]
    r = trading["reconciliation"]
    tolerance = 1e-6 * max(1.0, abs(r["start_value"]))
    assert r["unmatched_units"] == 0
    assert r["closed_pnl"] + r["open_pnl"] - r["fees"] == pytest.approx(r["end_value"] - r["start_value"],
                                                                         abs=tolerance)
    assert r["start_value"] == pytest.approx(performance["start_value"])
    assert r["fees"] == pytest.approx(fills["fee"].sum() if len(fills) else 0.0)
    assert trading["round_trips"] == trading["wins"] + trading["losses"]
    for part in ("by_strategy", "by_pair", "by_regime"):
        rows = metrics["breakdowns"][part].values()
        for key in ("closed_pnl", "open_pnl", "fees", "net_pnl"):
            assert sum(row[key] for row in rows) == pytest.approx(r[key if key != "net_pnl" else "ledger_pnl"],
                                                                  abs=tolerance), (part, key)
        assert sum(row["round_trips"] for row in rows) == trading["round_trips"]
    if len(fills):
        assert fills["strategy"].notna().all() and (fills["strategy"] != UNSPECIFIED).all()
        assert fills["regime"].notna().all() and (fills["reason"].isin(REASONS)).all(), fills["reason"].unique()
        assert set(fills["strategy"]) - {PORTFOLIO} <= set(metrics["breakdowns"]["by_strategy"])
        regimes = set(fills.loc[fills["strategy"] != PORTFOLIO, "regime"])
        assert (NO_REGIME not in regimes) if regime_system else (regimes == {NO_REGIME})
