"""Every known way around "only a passing, audited promotion approves a model", tried from outside as an attacker
or an impatient user would: each must fail to get a candidate promoted or loaded, with one clear message.

Real files in tmp_path, the real CLI in subprocesses; the audit key lives in the test run's temporary key folder
(tests/conftest.py), never in the user's home.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
import yaml
from sklearn.linear_model import LogisticRegression

from kraken_global.config import BacktestConfig
from kraken_global.errors import ConfigError
from kraken_global.gating.gates import run_gates
from kraken_global.gating.policy import GatePolicy, PolicyViolation
from kraken_global.registry import IntegrityError, ModelRegistry, PathEscapeError, RegistryError
from kraken_global.registry.keys import ENV_KEY_DIR
from kraken_global.runners.backtest import run_backtest
from tests.registry_helpers import manifest, passed_candidate, relax_policy, tiny_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "artifacts")


def cli(registry: ModelRegistry, *args: str, env: dict | None = None, config: Path | None = None):
    command = [sys.executable, "-m", "kraken_global.cli", *args, "--artifacts", str(registry.paths.base)]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, **(env or {})})


def refused(done: subprocess.CompletedProcess, code: int, text: str) -> None:
    """One clear line on stderr, the expected exit code, no traceback (``text``: a regular expression)."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert re.search(text, done.stderr), done.stderr
    assert "Traceback" not in done.stderr


def failed_candidate(registry: ModelRegistry, seed: int = 5) -> str:
    """A candidate whose audited gates run failed (under the current policy)."""
    candidate = registry.add_candidate(tiny_model(seed), manifest())
    registry.record_validation(candidate, {"candidate": candidate, "sha256": registry.file_sha256(candidate),
                                           "policy_sha256": registry.policy().sha256(), "passed": False,
                                           "gates": [{"name": "oos_metrics", "passed": False}]})
    return candidate


def write_config(path: Path, registry: ModelRegistry, **sections) -> Path:
    tree = {"ml": {"artifacts": str(registry.paths.base)}, "run": {"scheduler": "serial"}, **sections}
    path.write_text(yaml.safe_dump(tree))
    return path


# -- the policy ----------------------------------------------------------------------------------------------

def test_the_policy_is_created_with_safe_defaults_and_audited(registry):
    policy = registry.policy()
    assert (policy.min_sharpe, policy.max_drawdown_pct, policy.max_tail_loss_pct, policy.max_turnover) == \
        (0.5, 15.0, 5.0, 2.0)
    assert policy.min_oos_days >= 180 and policy.champion_margin == 0.0 and policy.min_shadow_days == 0
    assert policy.dsr_gate and policy.require_survive_without_best_day and policy.champion_confidence == 0.9
    (entry,) = [e for e in registry.audit.entries() if e["action"] == "policy"]
    assert entry["details"]["policy_sha256"] == policy.sha256()
    assert json.loads(registry.policy_file.read_text()) == policy.model_dump(mode="json")


def test_the_policy_never_asks_less_out_of_sample_data_than_its_sharpe_threshold_needs():
    with pytest.raises(ValueError, match="min_oos_days 30 is shorter than the 180 days"):
        GatePolicy(min_oos_days=30)
    assert GatePolicy(min_sharpe=0.0, min_oos_days=90).min_oos_days == 90
    with pytest.raises(ValueError, match="shorter than the 90 days"):
        GatePolicy(min_sharpe=0.0, min_oos_days=60)


def test_the_policy_changes_only_through_its_command_with_the_word_and_is_audited(registry):
    refused(cli(registry, "policy", "set", "min_sharpe=0.1"), 2, "pass --confirm yes-change-policy")
    refused(cli(registry, "policy", "set", "min_sharpe=0.1", "--confirm", "yes"), 2, "yes-change-policy")
    refused(cli(registry, "policy", "set", "min_oos_days=10", "--confirm", "yes-change-policy"), 2,
            "min_oos_days 10 is shorter than the 180 days")
    refused(cli(registry, "policy", "set", "sharpe=1", "--confirm", "yes-change-policy"), 2, "unknown policy key")
    refused(cli(registry, "policy", "set", "min_sharpe", "--confirm", "yes-change-policy"), 2, "is not KEY=VALUE")
    done = cli(registry, "policy", "set", "min_sharpe=0.8", "--confirm", "yes-change-policy")
    assert done.returncode == 0, done.stderr
    shown = json.loads(cli(registry, "policy", "show").stdout)
    assert shown["policy"]["min_sharpe"] == 0.8
    change = [e for e in registry.audit.entries() if e["action"] == "policy"][-1]
    assert change["details"]["changes"] == {"min_sharpe": "0.8"} and change["details"]["previous_sha256"]


def test_editing_the_policy_file_changes_nothing(registry):
    registry.policy()
    data = json.loads(registry.policy_file.read_text())
    data["min_sharpe"] = -10
    registry.policy_file.write_text(json.dumps(data))
    assert cli(registry, "audit", "verify").returncode == 1  # reported ...
    assert registry.policy().min_sharpe == 0.5  # ... and the audited policy applies (the copy is restored)
    assert json.loads(registry.policy_file.read_text())["min_sharpe"] == 0.5


def test_a_config_with_looser_gates_is_refused_before_any_report(registry, tmp_path):
    candidate = registry.add_candidate(tiny_model(), manifest())
    loose = write_config(tmp_path / "loose.yaml", registry, gates={"min_sharpe": 0.1, "max_drawdown_pct": 40})
    done = cli(registry, "gates", candidate, config=loose)
    refused(done, 2, r"gates\.min_sharpe 0\.1 is looser than the policy's 0\.5")
    assert "gates.max_drawdown_pct 40.0 is looser" in done.stderr and len(done.stderr.splitlines()) == 1
    assert registry.validation(candidate) is None
    assert not [e for e in registry.audit.entries() if e["action"] == "validation"]
    fewer_windows = BacktestConfig().with_overrides({"ml.artifacts": str(registry.paths.base),
                                                     "gates.oos_windows": 1})
    with pytest.raises(PolicyViolation, match=r"gates\.oos_windows 1 differs from the policy's 2"):
        run_gates(fewer_windows, candidate, registry)


def test_a_shorter_out_of_sample_period_is_refused(registry, tmp_path):
    candidate = registry.add_candidate(tiny_model(), manifest())  # trained until 2019-01-01
    short = write_config(tmp_path / "short.yaml", registry, universe={"pairs": ["BTC/USD"]},
                         data={"start": "2018-10-01", "end": "2019-05-15"})
    refused(cli(registry, "gates", candidate, config=short), 2, "shorter than the policy's min_oos_days 180")
    assert registry.validation(candidate) is None


# -- reports bound to the audit chain ---------------------------------------------------------------------------

def test_an_edited_report_is_not_promoted_and_audit_verify_names_it(registry):
    candidate = failed_candidate(registry)
    path = registry.paths.validation_file(candidate)
    report = json.loads(path.read_text())
    report.update(passed=True, gates=[{"name": "oos_metrics", "passed": True}])
    path.write_text(json.dumps(report))
    refused(cli(registry, "promote", candidate, "--confirm", "yes-promote"), 1,
            "does not match the one recorded in the audit log")
    refused(cli(registry, "audit", "verify"), 1, f"validations/{candidate}\\.json does not match")
    assert registry.state()["approved"] is None


def test_a_replaced_report_is_not_promoted(registry):
    candidate = failed_candidate(registry)
    registry.paths.validation_file(candidate).write_text(json.dumps({
        "candidate": candidate, "sha256": registry.file_sha256(candidate), "passed": True, "gates": [],
        "policy_sha256": registry.policy().sha256()}, indent=2, sort_keys=True) + "\n")
    with pytest.raises(IntegrityError, match="edited, replaced or swapped"):
        registry.promote(candidate, "yes-promote")


def test_a_swapped_report_is_not_promoted(registry):
    good, bad = passed_candidate(registry, 1), failed_candidate(registry)
    shutil.copy(registry.paths.validation_file(good), registry.paths.validation_file(bad))
    refused(cli(registry, "promote", bad, "--confirm", "yes-promote"), 1, "edited, replaced or swapped")
    refused(cli(registry, "audit", "verify"), 1, f"validations/{bad}\\.json does not match")


def test_a_deleted_report_is_not_promoted(registry):
    candidate = passed_candidate(registry)
    registry.paths.validation_file(candidate).unlink()
    refused(cli(registry, "promote", candidate, "--confirm", "yes-promote"), 1, "was deleted")
    refused(cli(registry, "audit", "verify"), 1, "was deleted")


def test_a_report_made_under_another_policy_is_not_promoted_and_the_approval_is_flagged(registry):
    approved, waiting = passed_candidate(registry, 1), passed_candidate(registry, 2)
    registry.promote(approved, "yes-promote")
    relax_policy(registry)
    with pytest.raises(RegistryError, match="made under another policy"):
        registry.promote(waiting, "yes-promote")
    loaded = registry.approved()  # the approval stands until replaced, flagged
    assert loaded.manifest["id"] == approved
    assert any("approved under an earlier policy" in flag for flag in loaded.record["flags"])
    assert any("looser than the defaults" in flag for flag in loaded.record["flags"])


# -- the approved pointer and the audit log ------------------------------------------------------------------

def test_an_edited_approved_pointer_is_not_loaded(registry, tmp_path):
    good, bad = passed_candidate(registry, 1), failed_candidate(registry)
    never_gated = registry.add_candidate(tiny_model(7), manifest())
    registry.promote(good, "yes-promote")
    for target in (bad, never_gated):
        entry = {"id": target, "sha256": registry.file_sha256(target)}  # the real hash
        registry.state_file.write_text(json.dumps({"seq": 2, "approved": entry,
                                                   "approvals": [{"id": good, "sha256": entry["sha256"]}, entry]}))
        with pytest.raises(IntegrityError, match=r"state\.json was edited"):
            registry.approved_model()
        listing = cli(registry, "models", "list")
        assert f"{good}  gates: passed  APPROVED" in listing.stdout and "does not match the audit log" in \
            listing.stderr
        assert "APPROVED" not in next(line for line in listing.stdout.splitlines() if line.startswith(target))
        refused(cli(registry, "audit", "verify"), 1, "state.json was edited")
    out = tmp_path / "bt"
    config = write_config(tmp_path / "bt.yaml", registry, universe={"pairs": ["BTC/USD"]},
                          data={"start": "2019-01-01", "end": "2019-07-15", "timeframe": "4h"})
    backtest = subprocess.run([sys.executable, "-m", "kraken_global.cli", "backtest", "--config", str(config),
                               "--model", "approved", "--no-plot", "--no-progress", "--out", str(out)],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
    refused(backtest, 1, "state.json was edited")


def _forge(entry: dict, key: bytes) -> dict:
    body = {k: v for k, v in entry.items() if k != "hash"}
    entry["hash"] = hmac.new(key, json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
                             hashlib.sha256).hexdigest()
    return entry


@pytest.mark.parametrize("scheme", ["plain sha256", "a guessed key"])
def test_a_forged_promotion_in_the_audit_log_is_detected_and_nothing_loads(registry, scheme):
    good, bad = passed_candidate(registry, 1), failed_candidate(registry)
    registry.promote(good, "yes-promote")
    last = registry.audit.entries()[-1]
    bad_sha = registry.file_sha256(bad)
    forged = {"seq": last["seq"] + 1, "time": last["time"], "action": "promote", "chain": last["chain"],
              "details": {"id": bad, "sha256": bad_sha, "previous": None, "state_seq": 2, "actor": "x"},
              "prev_hash": last["hash"]}
    if scheme == "plain sha256":
        body = json.dumps({k: v for k, v in forged.items()}, sort_keys=True, separators=(",", ":"))
        forged["hash"] = hashlib.sha256(body.encode()).hexdigest()
    else:
        _forge(forged, b"0" * 32)
    with open(registry.audit.path, "a") as handle:
        handle.write(json.dumps(forged, sort_keys=True, separators=(",", ":")) + "\n")
    entry = {"id": bad, "sha256": bad_sha}
    registry.state_file.write_text(json.dumps({"seq": 2, "approved": entry,
                                               "approvals": [{"id": good, "sha256": registry.file_sha256(good)},
                                                             entry]}))
    refused(cli(registry, "audit", "verify"), 1, "was edited or forged")
    with pytest.raises(IntegrityError, match="edited or forged"):
        registry.approved_model()


@pytest.fixture
def rolled_back(registry) -> ModelRegistry:
    first, second = passed_candidate(registry, 1), passed_candidate(registry, 2)
    registry.promote(first, "yes-promote")
    registry.promote(second, "yes-promote")
    registry.rollback("yes-rollback")
    return registry


def test_a_log_cut_before_its_rollback_is_detected(rolled_back):
    lines = rolled_back.audit.path.read_text().splitlines(keepends=True)
    rolled_back.audit.path.write_text("".join(lines[:-1]))  # as if the rollback never happened
    refused(cli(rolled_back, "audit", "verify"), 1, "the log was truncated")
    with pytest.raises(IntegrityError, match="truncated"):
        rolled_back.approved_model()
    with pytest.raises(IntegrityError, match="truncated"):  # and a new entry cannot hide the cut
        rolled_back.promote(rolled_back.candidates()[-1], "yes-promote")


@pytest.mark.parametrize("damage", ["emptied", "deleted"])
def test_an_emptied_or_deleted_log_is_detected(rolled_back, damage):
    if damage == "emptied":
        rolled_back.audit.path.write_text("")
    else:
        rolled_back.audit.path.unlink()
    refused(cli(rolled_back, "audit", "verify"), 1, "is empty" if damage == "emptied" else "is missing")
    with pytest.raises(IntegrityError, match="deleted or emptied"):
        rolled_back.approved_model()


def test_a_log_replaced_by_another_validly_signed_log_is_detected(rolled_back, tmp_path):
    other = ModelRegistry(tmp_path / "other")  # same key, its own chain
    passed_candidate(other, 1)
    passed_candidate(other, 2)
    for _ in range(3):
        passed_candidate(other, 3)
    shutil.copy(other.audit.path, rolled_back.audit.path)
    refused(cli(rolled_back, "audit", "verify"), 1, "the log was rewritten or replaced")


def test_the_registry_still_verifies_when_mounted_at_another_path(rolled_back, tmp_path):
    """A container mounts the artifacts at /data/artifacts: the anchor follows the log, not its path."""
    moved = tmp_path / "mounted" / "artifacts"
    shutil.copytree(rolled_back.paths.base, moved)
    elsewhere = ModelRegistry(moved)
    assert elsewhere.approved_model()[1]["id"] == rolled_back.state()["approved"]["id"]
    lines = elsewhere.audit.path.read_text().splitlines(keepends=True)
    elsewhere.audit.path.write_text("".join(lines[:-1]))
    with pytest.raises(IntegrityError, match="truncated"):
        elsewhere.approved_model()


def test_without_the_key_nothing_verifies_and_no_new_key_is_made(rolled_back, tmp_path):
    elsewhere = tmp_path / "no-key-here"
    done = cli(rolled_back, "audit", "verify", env={ENV_KEY_DIR: str(elsewhere)})
    refused(done, 1, "is missing, but the audit log was signed with it: restore the key folder")
    assert not (elsewhere / "audit.key").exists()
    with pytest.raises(IntegrityError, match="restore the key folder"):
        ModelRegistry(rolled_back.paths.base, key_dir=elsewhere).approved_model()


def test_the_key_is_private_and_kept_outside_the_artifacts(tmp_path):
    keys = tmp_path / "keys"
    registry = ModelRegistry(tmp_path / "artifacts", key_dir=keys)
    passed_candidate(registry)
    assert (keys / "audit.key").stat().st_mode & 0o777 == 0o600
    assert (keys / "audit.key").read_text().strip() not in registry.audit.path.read_text()
    with pytest.raises(RegistryError, match="inside the artifacts folder"):
        ModelRegistry(tmp_path / "artifacts", key_dir=tmp_path / "artifacts" / "keys")
    (keys / "audit.key").chmod(0o644)
    with pytest.raises(IntegrityError, match="readable by others: chmod 600"):
        registry.audit.verify()


def test_a_registry_with_an_old_unkeyed_log_gets_a_clear_message(registry):
    candidate = registry.add_candidate(tiny_model(), manifest())
    previous = "0" * 64
    lines = []
    for seq, action in enumerate(["candidate", "validation"], start=1):
        entry = {"seq": seq, "time": "2024-01-01T00:00:00", "action": action,
                 "details": {"id": candidate, "passed": True}, "prev_hash": previous}
        entry["hash"] = hashlib.sha256(json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        previous = entry["hash"]
        lines.append(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n")
    registry.audit.path.write_text("".join(lines))
    for args in (("audit", "verify"), ("promote", candidate, "--confirm", "yes-promote"), ("models", "list")):
        refused(cli(registry, *args), 1, "written before the audit chain was keyed")


# -- files in a candidate folder ------------------------------------------------------------------------------

def test_a_symlinked_model_file_is_neither_promoted_nor_loaded(registry, tmp_path):
    candidate = passed_candidate(registry)
    model_file = registry.paths.candidate_dir(candidate) / "model.skops"
    outside = tmp_path / "outside.skops"
    shutil.copy(model_file, outside)  # the same bytes: the hash still matches
    model_file.unlink()
    model_file.symlink_to(outside)
    refused(cli(registry, "promote", candidate, "--confirm", "yes-promote"), 2, "outside the namespace root")
    with pytest.raises(PathEscapeError, match="outside the namespace root"):
        registry.load_candidate(candidate)
    model_file.unlink()
    other = passed_candidate(registry, 3)
    model_file.symlink_to(registry.paths.candidate_dir(other) / "model.skops")  # inside the registry: refused too
    refused(cli(registry, "promote", candidate, "--confirm", "yes-promote"), 2, "is a symlink")
    model_file.unlink()
    shutil.copy(outside, model_file)
    registry.promote(candidate, "yes-promote")
    model_file.unlink()
    model_file.symlink_to(outside)
    with pytest.raises(PathEscapeError, match="outside the namespace root"):
        registry.approved_model()


def test_a_symlinked_manifest_is_not_printed(registry, tmp_path):
    candidate = passed_candidate(registry)
    manifest_file = registry.paths.candidate_dir(candidate) / "manifest.json"
    outside = tmp_path / "secret.json"
    outside.write_text(manifest_file.read_text())
    manifest_file.unlink()
    manifest_file.symlink_to(outside)
    done = cli(registry, "models", "show", candidate)
    refused(done, 2, "outside the namespace root")
    assert done.stdout == ""
    manifest_file.unlink()
    manifest_file.symlink_to(registry.paths.candidate_dir(passed_candidate(registry, 4)) / "manifest.json")
    refused(cli(registry, "models", "show", candidate), 2, "is a symlink")


# -- crafted model files -------------------------------------------------------------------------------------

LOAD_AND_PREDICT = """
import sys
import numpy as np
from kraken_global.registry import ModelRegistry, UntrustedModelError
registry = ModelRegistry(sys.argv[1])
try:
    model, _ = registry.load_candidate(sys.argv[2])
except UntrustedModelError as exc:
    print(exc)
    sys.exit(3)
model.predict_proba(np.zeros((8, 11)))
print("predicted")
"""


def _crafted(registry: ModelRegistry, damage: str) -> str:
    model = tiny_model()
    nodes = model._predictors[0][0].nodes
    inner = int(np.flatnonzero(nodes["is_leaf"] == 0)[0])
    if damage == "self loop":
        nodes["left"][inner] = inner
    elif damage == "back edge":
        nodes["right"][int(nodes["left"][inner])] = inner  # a cycle through a child, if the child is inner
        nodes["is_leaf"][int(nodes["left"][inner])] = 0
    elif damage == "child out of range":
        nodes["right"][inner] = 10_000_000
    elif damage == "feature out of range":
        nodes["feature_idx"][inner] = 1_000_000
    elif damage == "negative feature":
        nodes["feature_idx"][inner] = -5
    elif damage == "not our model class":
        model = LogisticRegression().fit(np.random.default_rng(0).normal(size=(20, 11)), [0, 1] * 10)
    return registry.add_candidate(model, manifest())


@pytest.mark.parametrize("damage", ["self loop", "back edge", "child out of range", "feature out of range",
                                    "negative feature", "not our model class"])
def test_a_crafted_model_is_refused_without_crash_or_hang(registry, damage):
    candidate = _crafted(registry, damage)
    done = subprocess.run([sys.executable, "-c", LOAD_AND_PREDICT, str(registry.paths.base), candidate],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)  # a segfault cannot kill pytest
    assert done.returncode == 3, (done.returncode, done.stdout, done.stderr)
    assert "was not loaded" in done.stdout or "outside the model's" in done.stdout


def test_the_gates_refuse_a_crafted_tree_at_the_integrity_gate(registry):
    candidate = _crafted(registry, "self loop")
    done = cli(registry, "gates", candidate, "--scheduler", "serial")
    assert done.returncode == 1, done.stderr
    gates = {g["name"]: g for g in json.loads(done.stdout)["gates"]}
    assert not gates["integrity"]["passed"] and "loops back" in gates["integrity"]["detail"]


def test_a_sound_model_still_loads_and_predicts(registry):
    candidate = registry.add_candidate(tiny_model(), manifest())
    done = subprocess.run([sys.executable, "-c", LOAD_AND_PREDICT, str(registry.paths.base), candidate],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "predicted" in done.stdout, done.stderr
    assert sio.get_untrusted_types(data=(registry.paths.candidate_dir(candidate) / "model.skops").read_bytes())


# -- the approved model applies to whatever strategy trades ---------------------------------------------------

def test_a_strategy_that_ignores_the_model_refuses_to_run_with_it(registry, tmp_path):
    candidate = passed_candidate(registry)
    registry.promote(candidate, "yes-promote")
    config = BacktestConfig().with_overrides({"ml.artifacts": str(registry.paths.base), "ml.use_model": "approved",
                                              "strategy.name": "baseline"})
    with pytest.raises(ConfigError, match="'baseline' does not use the entry-filter model"):
        run_backtest(config)
    yaml_config = write_config(tmp_path / "baseline.yaml", registry, strategy={"name": "baseline"})
    done = subprocess.run([sys.executable, "-m", "kraken_global.cli", "backtest", "--config", str(yaml_config),
                           "--model", "approved", "--no-plot", "--no-progress", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    refused(done, 2, "would be ignored")


def test_a_session_with_a_strategy_that_ignores_the_model_refuses_before_loading_it(registry):
    from kraken_global.sessions.session import SessionRunner

    config = BacktestConfig().with_overrides({"ml.artifacts": str(registry.paths.base), "ml.use_model": "approved",
                                              "strategy.name": "baseline"})
    with pytest.raises(ConfigError, match="would be ignored"):
        SessionRunner(config, "paper")


# -- the demo walk-through ----------------------------------------------------------------------------------------

def test_the_gates_demo_config_runs_in_a_namespace_relaxed_by_the_policy_command(tmp_path):
    from kraken_global.config import load_config
    from kraken_global.gating.policy import effective_thresholds

    demo = ROOT / "configs" / "gates-demo.yaml"
    registry = ModelRegistry(tmp_path, namespace=load_config(demo).ml.namespace)
    asked = load_config(demo).gates.model_dump()
    with pytest.raises(PolicyViolation, match="looser than the policy"):
        effective_thresholds(registry.policy(), asked)
    done = cli(registry, "policy", "set", "min_sharpe=0", "max_drawdown_pct=30", "max_tail_loss_pct=10",
               "dsr_gate=false", "champion_margin=none", "require_survive_without_best_day=false",
               "--config", str(demo), "--confirm", "yes-change-policy")  # the README's command
    assert done.returncode == 0, done.stderr
    assert effective_thresholds(registry.policy(), asked)["min_sharpe"] == 0.0
    assert registry.policy().champion_margin is None and not registry.policy().dsr_gate
    assert registry.paths.namespace == "gates-demo" and registry.audit.entries()[-1]["action"] == "policy"


def test_asking_again_for_the_policy_in_force_records_nothing(tmp_path):
    registry = ModelRegistry(tmp_path)
    first = registry.set_policy({"min_sharpe": "0.8"}, "yes-change-policy")
    entries = len(registry.audit.entries())
    assert registry.set_policy({"min_sharpe": "0.8"}, "yes-change-policy") == first
    assert len(registry.audit.entries()) == entries
