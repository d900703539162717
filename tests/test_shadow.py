"""Shadow mode: a paper session against the emulator with a candidate in shadow, the report, and promotion held
to the policy's minimum shadow period."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from kraken_global.cli import main
from kraken_global.registry import ModelRegistry, RegistryError
from kraken_global.registry.shadow import ShadowArea
from tests.registry_helpers import passed_candidate, relax_policy
from tests.session_helpers import emulator, write_config_file


@pytest.fixture(scope="module")
def shadowed(tmp_path_factory):
    """A paper session (no model) with a candidate in shadow, run through the real command line."""
    root = tmp_path_factory.mktemp("shadow")
    registry = ModelRegistry(root / "artifacts")
    relax_policy(registry, min_shadow_days="1")  # promotion needs a day of shadow on Kraken itself
    candidate = passed_candidate(registry, seed=3, operating_point={"min_probability": 0.6, "horizon_bars": 24})
    with emulator() as server:
        config = write_config_file(server, root)
        assert main(["paper", "--config", str(config), "--shadow", candidate]) == 0
    return root, registry, candidate


def test_the_session_records_the_shadows_decisions_in_the_registry_never_sending_them(shadowed):
    root, registry, candidate = shadowed
    (session,) = [p.parent for p in (root / "results").rglob("session.json")]
    folder = registry.paths.path("shadow", candidate, session.resolve().name)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["candidate"]["id"] == candidate and summary["approved"]["id"] is None
    assert summary["candidate"]["operating_point"]["min_probability"] == 0.6
    shadow_orders = pd.read_csv(folder / "orders.csv")
    session_orders = pd.read_csv(session / "orders.csv")
    assert summary["session_model"]["orders"] == len(session_orders)  # the session's own model, replayed
    assert summary["shadow"]["orders"] == len(shadow_orders)
    assert len(shadow_orders) < len(session_orders)  # the candidate's 0.6 threshold vetoes entries
    assert summary["differing_orders"] > 0
    assert summary["days"] == 0 and "emulated markets do not count" in summary["days_note"]
    audited = [e for e in registry.audit.verify_entries() if e["action"] == "shadow"]
    assert audited and audited[-1]["details"]["id"] == candidate


def test_shadow_report_prints_the_comparison(shadowed, capsys):
    root, _, candidate = shadowed
    assert main(["shadow", "report", "--artifacts", str(root / "artifacts"), "--candidate", candidate]) == 0
    out = capsys.readouterr().out
    assert candidate in out and "shadow ret%" in out and "0.0 days toward min_shadow_days (1 required)" in out


def test_promote_enforces_the_shadow_period_from_audited_records_only(shadowed):
    _, registry, candidate = shadowed
    with pytest.raises(RegistryError, match=r"has 0.0 days in shadow; the policy requires 1"):
        registry.promote(candidate, "yes-promote")
    sha = registry.manifest(candidate)["sha256"]
    real = {"candidate": {"id": candidate, "sha256": sha}, "counted_from": "2026-01-01 00:00:00",
            "counted_until": "2026-01-02 12:00:00", "days": 1.5, "exchange": "kraken"}
    ShadowArea(registry).record(candidate, "paper-kraken", real, {})
    summary = registry.paths.path("shadow", candidate, "paper-kraken", "summary.json")
    text = summary.read_text()
    summary.write_text(text.replace("2026-01-02 12:00:00", "2026-03-02 12:00:00"))  # stretched by hand
    with pytest.raises(RegistryError, match="days in shadow"):
        registry.promote(candidate, "yes-promote")
    summary.write_text(text)
    assert registry.promote(candidate, "yes-promote")["approved"]["id"] == candidate


def test_an_unknown_shadow_candidate_is_refused_before_the_session_starts(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"ml:\n  artifacts: {tmp_path / 'artifacts'}\n")
    assert main(["paper", "--config", str(config), "--shadow", "20200101T000000Z-deadbeef"]) == 2
    assert "no candidate" in capsys.readouterr().err


def test_overlapping_shadow_sessions_count_their_common_days_once(tmp_path):
    registry = ModelRegistry(tmp_path)
    candidate = passed_candidate(registry)
    sha = registry.manifest(candidate)["sha256"]
    area = ShadowArea(registry)
    for name, first, last in (("a", "2026-01-01", "2026-01-03"), ("b", "2026-01-02", "2026-01-05"),
                              ("c", "2026-01-10", "2026-01-11")):
        area.record(candidate, name, {"candidate": {"id": candidate, "sha256": sha}, "counted_from": first,
                                      "counted_until": last}, {})
    assert area.days(registry.audit.verify_entries(), candidate, sha) == pytest.approx(5.0)
    assert area.days(registry.audit.verify_entries(), candidate, "0" * 64) == 0.0

