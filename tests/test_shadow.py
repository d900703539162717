"""Shadow mode: a paper session against the emulator with a candidate in shadow, the report, and promotion held
to the policy's minimum shadow period."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from kraken_global.cli import main
from kraken_global.registry import ModelRegistry, RegistryError
from kraken_global.registry.sessions import SessionLedger
from kraken_global.registry.shadow import ShadowArea
from kraken_global.replay.shadow import run_shadow
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


def kraken_session(registry: ModelRegistry, first: str, last: str, end: bool = True) -> str:
    """A session entered in the chain as trading on Kraken itself, with its live bars signed from ``first`` to
    ``last`` (the way a running session signs them); returns its id."""
    recorder = SessionLedger(registry).start("live", None, f"live-{first}")
    for when in pd.date_range(first, last, periods=3):
        recorder.live_bar(when.to_pydatetime())
    if end:
        recorder.end()
    return recorder.session


def shadow_record(registry: ModelRegistry, candidate: str, session: str, counted_from: str, counted_until: str,
                  name: str | None = None) -> None:
    sha = registry.manifest(candidate)["sha256"]
    ShadowArea(registry).record(candidate, name or session, {
        "candidate": {"id": candidate, "sha256": sha}, "session_id": session, "counted_from": counted_from,
        "counted_until": counted_until, "exchange": "kraken"}, {})


def test_promote_enforces_the_shadow_period_from_audited_records_only(shadowed):
    _, registry, candidate = shadowed
    with pytest.raises(RegistryError, match=r"has 0.0 days in shadow; the policy requires 1"):
        registry.promote(candidate, "yes-promote")
    session = kraken_session(registry, "2026-01-01 00:00", "2026-01-02 12:00")
    shadow_record(registry, candidate, session, "2026-01-01 00:00:00", "2026-01-02 12:00:00", "paper-kraken")
    summary = registry.paths.path("shadow", candidate, "paper-kraken", "summary.json")
    text = summary.read_text()
    summary.write_text(text.replace("2026-01-02 12:00:00", "2026-03-02 12:00:00"))  # stretched by hand
    with pytest.raises(RegistryError, match="days in shadow"):
        registry.promote(candidate, "yes-promote")
    summary.write_text(text)
    assert registry.promote(candidate, "yes-promote")["approved"]["id"] == candidate


def test_a_forged_shadow_session_counts_for_nothing(shadowed, tmp_path):
    """The emulator session's folder edited to say Kraken, copied, or pointed at another session; an unsigned
    stretch of a session's signed live bars; a shadow record of a session the chain never saw."""
    root, registry, candidate = shadowed
    (session,) = [p.parent for p in (root / "results").rglob("session.json")]
    forged = tmp_path / "paper-forged"
    shutil.copytree(session, forged)
    config = yaml.safe_load((forged / "config.yaml").read_text())
    config["live"]["api_url"] = None  # "it was Kraken"
    (forged / "config.yaml").write_text(yaml.safe_dump(config))
    summary = run_shadow(forged, candidate, registry)
    assert summary["days"] == 0 and summary["exchange"].startswith("http://127.0.0.1")
    assert "not Kraken" in summary["days_note"]
    record = json.loads((forged / "session.json").read_text())
    record["replay"]["session_id"] = "f" * 32  # a session the chain never saw
    (forged / "session.json").write_text(json.dumps(record))
    summary = run_shadow(forged, candidate, registry)
    assert summary["days"] == 0 and "no record of this session running" in summary["days_note"]
    sha = registry.manifest(candidate)["sha256"]
    before = ShadowArea(registry).days(registry.audit.verify_entries(), candidate, sha)  # other tests' sessions
    killed = kraken_session(registry, "2026-05-01", "2026-05-03", end=False)  # killed: only its signed progress
    progress = SessionLedger(registry).progress_file(killed)
    signed = json.loads(progress.read_text())
    progress.write_text(json.dumps({**signed, "last_live_bar": "2026-09-01 00:00:00"}))  # stretched, unsigned
    shadow_record(registry, candidate, killed, "2026-05-01 00:00:00", "2026-09-01 00:00:00", "killed")
    shadow_record(registry, candidate, "e" * 32, "2026-06-01 00:00:00", "2026-09-01 00:00:00", "unaudited")
    assert ShadowArea(registry).days(registry.audit.verify_entries(), candidate, sha) == before
    progress.write_text(json.dumps(signed))
    assert ShadowArea(registry).days(registry.audit.verify_entries(), candidate, sha) == pytest.approx(before + 2)


@pytest.mark.parametrize("attribute", ["n_features_in_", "n_trees_per_iteration_", "_loss"])
def test_shadow_run_refuses_a_model_that_would_break_its_replay(shadowed, capsys, attribute):
    from tests.registry_helpers import crafted, manifest

    root, registry, _ = shadowed
    (session,) = [p.parent for p in (root / "results").rglob("session.json")]
    candidate = registry.add_candidate(crafted(attribute), manifest())
    assert main(["shadow", "run", str(session), "--candidate", candidate, "--artifacts", str(root / "artifacts")]) == 1
    assert "it was not loaded" in capsys.readouterr().err


def test_an_unknown_shadow_candidate_is_refused_before_the_session_starts(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"ml:\n  artifacts: {tmp_path / 'artifacts'}\n")
    assert main(["paper", "--config", str(config), "--shadow", "20200101T000000Z-deadbeef"]) == 2
    assert "no candidate" in capsys.readouterr().err


def test_overlapping_shadow_sessions_count_their_common_days_once(tmp_path):
    registry = ModelRegistry(tmp_path)
    candidate = passed_candidate(registry)
    sha = registry.manifest(candidate)["sha256"]
    for name, first, last in (("a", "2026-01-01", "2026-01-03"), ("b", "2026-01-02", "2026-01-05"),
                              ("c", "2026-01-10", "2026-01-11")):
        session = kraken_session(registry, first, last)
        shadow_record(registry, candidate, session, first, last, name)
        if name == "c":  # the same session shadowed again from a copied folder: its days count once
            shadow_record(registry, candidate, session, first, last, "c-copy")
    assert ShadowArea(registry).days(registry.audit.verify_entries(), candidate, sha) == pytest.approx(5.0)
    assert ShadowArea(registry).days(registry.audit.verify_entries(), candidate, "0" * 64) == 0.0
