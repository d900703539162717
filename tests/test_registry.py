"""The model registry with real files: namespaces, integrity, trusted types, audit chain, atomic promotion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from kraken_global.registry import (
    ArtifactRoot,
    ConfirmationRequired,
    IntegrityError,
    ModelRegistry,
    PathEscapeError,
    RegistryError,
    UntrustedModelError,
)
from kraken_global.registry.crash import ENV, EXIT_CODE
from tests.registry_helpers import manifest, passed_candidate, tiny_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "artifacts")


class Evil(BaseEstimator, ClassifierMixin):
    """A class skops does not trust: loading it would mean importing and running code of the artifact's choosing."""

    def fit(self, x, y):
        return self


# -- namespace and paths ---------------------------------------------------------------------------------

@pytest.mark.parametrize("parts", [("..",), ("..", "other"), ("candidates", ".."), ("/etc",), ("a/b",), ("",)])
def test_paths_outside_the_namespace_are_refused(tmp_path, parts):
    with pytest.raises(PathEscapeError):
        ArtifactRoot(tmp_path).path(*parts)


@pytest.mark.parametrize("candidate", ["../x", "..", "a/b", "", ".hidden", "x" * 200])
def test_bad_candidate_ids_are_refused(registry, candidate):
    with pytest.raises(PathEscapeError):
        registry.manifest(candidate)


def test_a_symlink_that_leads_out_is_refused(registry, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (registry.root / "candidates" / "sneaky").symlink_to(outside)
    with pytest.raises(PathEscapeError, match="outside the namespace root"):
        registry.manifest("sneaky")


def test_namespaces_do_not_mix_and_bad_names_are_refused(tmp_path):
    ours = ModelRegistry(tmp_path)
    passed_candidate(ours)
    theirs = ModelRegistry(tmp_path, namespace="other_system")
    assert theirs.candidates() == [] and len(ours.candidates()) == 1
    with pytest.raises(PathEscapeError, match="not valid"):
        ModelRegistry(tmp_path, namespace="../kraken_global")


# -- integrity, trusted types, schema ----------------------------------------------------------------------

def test_a_candidate_round_trips_with_its_hash(registry):
    candidate = registry.add_candidate(tiny_model(), manifest())
    model, stored = registry.load_candidate(candidate)
    assert stored["sha256"] == registry.file_sha256(candidate)
    assert model.predict_proba([[0.0] * 11]).shape == (1, 2)


def test_a_tampered_model_file_is_detected(registry):
    candidate = registry.add_candidate(tiny_model(), manifest())
    path = registry.paths.candidate_dir(candidate) / "model.skops"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="the file was changed or corrupted"):
        registry.load_candidate(candidate)


def test_an_artifact_with_untrusted_types_is_not_loaded_even_if_its_manifest_asks(registry):
    # entered through the registry itself (an edited manifest would already be refused by the audit chain)
    candidate = registry.add_candidate(Evil(), manifest(trusted_types=["tests.test_registry.Evil"]))
    with pytest.raises(UntrustedModelError, match=r"tests\.test_registry\.Evil"):
        registry.load_candidate(candidate)


def test_a_manifest_missing_fields_is_refused(registry):
    candidate = registry.add_candidate(tiny_model(), manifest())
    path = registry.paths.candidate_dir(candidate) / "manifest.json"
    stored = json.loads(path.read_text())
    del stored["feature_schema"]
    path.write_text(json.dumps(stored))
    with pytest.raises(IntegrityError, match="lacks required field"):
        registry.manifest(candidate)


# -- promotion rules -----------------------------------------------------------------------------------------

def test_promote_needs_the_exact_confirmation_word(registry):
    candidate = passed_candidate(registry)
    for word in (None, "yes", "YES-PROMOTE", "yes-promote "):
        with pytest.raises(ConfirmationRequired, match="pass --confirm yes-promote"):
            registry.promote(candidate, word)
    assert registry.state()["approved"] is None


def test_promote_needs_passed_gates_on_that_exact_hash(registry):
    candidate = registry.add_candidate(tiny_model(), manifest())
    with pytest.raises(RegistryError, match="has no gates report"):
        registry.promote(candidate, "yes-promote")
    policy = registry.policy().sha256()
    registry.record_validation(candidate, {"sha256": registry.file_sha256(candidate), "passed": False,
                                           "policy_sha256": policy,
                                           "gates": [{"name": "oos_metrics", "passed": False}]})
    with pytest.raises(RegistryError, match=r"failed its gates \(oos_metrics\)"):
        registry.promote(candidate, "yes-promote")
    registry.record_validation(candidate, {"sha256": "f" * 64, "passed": True, "policy_sha256": policy, "gates": []})
    with pytest.raises(RegistryError, match="run the gates again"):
        registry.promote(candidate, "yes-promote")
    assert registry.state()["approved"] is None


def test_promote_then_rollback_and_the_live_loader_verifies_the_hash(registry):
    first, second = passed_candidate(registry, 1), passed_candidate(registry, 2)
    registry.promote(first, "yes-promote")
    registry.promote(second, "yes-promote")
    assert registry.approved_model()[1]["id"] == second
    with pytest.raises(ConfirmationRequired):
        registry.rollback("yes")
    registry.rollback("yes-rollback")
    assert registry.state()["approved"]["id"] == first
    with pytest.raises(RegistryError, match="no previous approved model"):
        registry.rollback("yes-rollback")
    path = registry.paths.candidate_dir(first) / "model.skops"
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(IntegrityError):
        registry.approved_model()
    assert registry.audit.verify() >= 6


# -- audit log -------------------------------------------------------------------------------------------------

def _audit_lines(registry) -> list[str]:
    return registry.audit.path.read_text().splitlines(keepends=True)


@pytest.fixture
def audited(registry) -> ModelRegistry:
    first, second = passed_candidate(registry, 1), passed_candidate(registry, 2)
    registry.promote(first, "yes-promote")
    registry.promote(second, "yes-promote")
    return registry


def test_an_edited_audit_line_is_detected(audited):
    lines = _audit_lines(audited)
    number = next(i for i, line in enumerate(lines) if '"passed":true' in line)  # the first gates report
    lines[number] = lines[number].replace('"passed":true', '"passed":false')
    audited.audit.path.write_text("".join(lines))
    with pytest.raises(IntegrityError, match=f"line {number + 1}: hash does not match"):
        audited.audit.verify()


def test_a_removed_audit_line_is_detected(audited):
    lines = _audit_lines(audited)
    del lines[1]
    audited.audit.path.write_text("".join(lines))
    with pytest.raises(IntegrityError, match="line 2: sequence 3 where 2 was expected"):
        audited.audit.verify()


def test_reordered_audit_lines_are_detected(audited):
    lines = _audit_lines(audited)
    lines[1], lines[2] = lines[2], lines[1]
    audited.audit.path.write_text("".join(lines))
    with pytest.raises(IntegrityError, match="line 2"):
        audited.audit.verify()


def test_audit_verify_cli_fails_on_a_tampered_log(audited):
    lines = _audit_lines(audited)
    audited.audit.path.write_text("".join(lines[:-2] + lines[-1:]))
    done = subprocess.run([sys.executable, "-m", "kraken_global.cli", "audit", "verify", "--artifacts",
                           str(audited.paths.base)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 1 and "sequence" in done.stderr and "Traceback" not in done.stderr


# -- crashes and concurrency -------------------------------------------------------------------------------

SCRIPT = """
import sys
from kraken_global.registry import ModelRegistry
registry = ModelRegistry(sys.argv[1])
if sys.argv[2] == "promote":
    registry.promote(sys.argv[3], "yes-promote")
else:
    registry.rollback("yes-rollback")
"""


def _run(base, *args, crash=None):
    env = {**os.environ, **({ENV: crash} if crash else {})}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(base), *args], env=env, cwd=ROOT)


@pytest.mark.parametrize(("step", "outcome"), [
    ("promote:before_next", "old"), ("promote:after_next", "old"), ("audit:torn", "old"),
    ("promote:after_audit", "new"), ("promote:after_replace", "new"),
])
def test_a_promotion_killed_at_any_step_leaves_old_or_new_and_recovers(registry, step, outcome):
    old, new = passed_candidate(registry, 1), passed_candidate(registry, 2)
    registry.promote(old, "yes-promote")
    assert _run(registry.paths.base, "promote", new, crash=step).wait(60) == EXIT_CODE
    on_disk = registry.state()["approved"]["id"]
    assert on_disk in (old, new)  # never a mix: state.json is replaced whole
    after = ModelRegistry(registry.paths.base)
    _, approved = after.approved_model()  # every command recovers first
    assert approved["id"] == (old if outcome == "old" else new)
    after.audit.verify()
    assert not after.next_file.exists()
    promotions = [e for e in after.audit.entries() if e["action"] == "promote" and e["details"]["id"] == new]
    assert len(promotions) == (0 if outcome == "old" else 1)
    if outcome == "old":
        after.promote(new, "yes-promote")  # the next command works cleanly
        assert after.state()["approved"]["id"] == new


@pytest.mark.parametrize(("step", "outcome"), [
    ("rollback:after_next", "old"), ("rollback:after_audit", "new"), ("rollback:after_replace", "new"),
])
def test_a_rollback_killed_at_any_step_leaves_old_or_new(registry, step, outcome):
    first, second = passed_candidate(registry, 1), passed_candidate(registry, 2)
    registry.promote(first, "yes-promote")
    registry.promote(second, "yes-promote")
    assert _run(registry.paths.base, "rollback", crash=step).wait(60) == EXIT_CODE
    after = ModelRegistry(registry.paths.base)
    assert after.approved_model()[1]["id"] == (second if outcome == "old" else first)
    after.audit.verify()


def test_concurrent_promotions_are_serialized(registry):
    base = passed_candidate(registry, 0)
    registry.promote(base, "yes-promote")
    a, b = passed_candidate(registry, 1), passed_candidate(registry, 2)
    started = time.monotonic()
    processes = [_run(registry.paths.base, "promote", a), _run(registry.paths.base, "promote", b)]
    assert [p.wait(60) for p in processes] == [0, 0]
    assert time.monotonic() - started < 60
    state = ModelRegistry(registry.paths.base).state()
    assert next(x["id"] for x in state["approvals"]) == base
    assert sorted(x["id"] for x in state["approvals"][1:]) == sorted([a, b])
    assert state["seq"] == 3
    assert registry.audit.verify() == len(registry.audit.entries())
