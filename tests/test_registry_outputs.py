"""The registry's commands for people and machines: tables by default, ``--json`` for scripts, and ``models list``
on a fresh clone says where it looked (creating nothing) and which registries it found."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kraken_global.cli import main
from kraken_global.registry import ModelRegistry
from tests.registry_helpers import passed_candidate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clone(tmp_path, monkeypatch) -> Path:
    """A folder laid out like a fresh clone (its configs), as the working directory."""
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_models_list_on_a_fresh_clone_says_where_it_looked_and_creates_nothing(clone, capsys):
    code, out, _ = run(capsys, "models", "list")
    assert code == 0 and "no registry at artifacts/kraken_global/" in out and "from the built-in defaults" in out
    assert "train" in out and not (clone / "artifacts").exists()
    assert run(capsys, "models", "list", "--json")[1].strip() == "[]"


def test_models_list_points_at_the_registries_it_finds(clone, capsys):
    registry = ModelRegistry(clone / "artifacts-demo", "gates-demo")  # what the README's walkthrough makes
    approved = passed_candidate(registry)
    registry.promote(approved, "yes-promote")
    other = passed_candidate(registry, 2)
    code, out, _ = run(capsys, "models", "list")
    assert code == 0 and "found: artifacts-demo/gates-demo/ with 2 candidate(s)" in out
    assert "models list --config configs/gates-demo.yaml" in out  # the config that selects it
    code, out, _ = run(capsys, "models", "list", "--config", "configs/gates-demo.yaml")
    assert code == 0 and f"{approved} *" in out and other in out and "passed" in out
    rows = json.loads(run(capsys, "models", "list", "--config", "configs/gates-demo.yaml", "--json")[1])
    assert [(r["id"], r["approved"], r["gates"]) for r in rows] == [(approved, True, "passed"),
                                                                     (other, False, "passed")]


def test_show_history_policy_and_audit_print_tables_or_json(clone, capsys):
    registry = ModelRegistry(clone / "artifacts")
    candidate = passed_candidate(registry)
    registry.promote(candidate, "yes-promote")
    code, out, _ = run(capsys, "models", "show", candidate)
    assert code == 0 and "trained on" in out and "operating point" in out and "gates" in out
    assert json.loads(run(capsys, "models", "show", candidate, "--json")[1])["approved"] is True
    code, out, _ = run(capsys, "models", "history")
    assert code == 0 and "promote" in out and candidate in out
    history = json.loads(run(capsys, "models", "history", "--json")[1])
    assert [e["action"] for e in history["audit"]] == ["promote"]
    code, out, _ = run(capsys, "policy", "show")
    assert code == 0 and "min_sharpe" in out and "policy_sha256" in out
    assert json.loads(run(capsys, "policy", "show", "--json")[1])["policy"]["min_sharpe"] == 0.5
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0 and "keyed hash chain intact" in " ".join(out.split())
    verified = json.loads(run(capsys, "audit", "verify", "--json")[1])
    assert verified["intact"] and verified["problems"] == [] and "promote" in verified["actions"]
