"""The holes of issue 21, tried from outside as an attacker who can write the artifacts folder and the configs but
not the key folder: each must now fail to promote, load or count, or be reported as the README says.

Real files in tmp_path, the real CLI in subprocesses (with ``--scheduler serial``: no Dask cluster starts);
the audit key lives in the test run's temporary key folder (tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from kraken_global.registry import IntegrityError, ModelRegistry
from kraken_global.registry.crash import ENV, EXIT_CODE
from kraken_global.registry.trials import TrialLedger
from kraken_global.sessions.session import SessionRunner
from tests.registry_helpers import crafted, manifest, passed_candidate, tiny_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "artifacts")


def cli(registry: ModelRegistry, *args: str, namespace: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "kraken_global.cli", *args, "--artifacts", str(registry.paths.base)]
    if namespace:
        command += ["--namespace", namespace]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)


def config_file(path: Path, registry: ModelRegistry, **sections) -> Path:
    tree = {"ml": {"artifacts": str(registry.paths.base)}, "run": {"scheduler": "serial"},
            "universe": {"pairs": ["BTC/USD"]}, "data": {"timeframe": "4h"}, **sections}
    path.write_text(yaml.safe_dump(tree))
    return path


def refused(done: subprocess.CompletedProcess, code: int, text: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert text in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len([line for line in done.stderr.splitlines()
                                                   if line.startswith("error:")]) <= 1, done.stderr


def gates(registry: ModelRegistry, candidate: str, config: Path) -> dict:
    done = cli(registry, "gates", candidate, "--config", str(config))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    return {g["name"]: g for g in json.loads(done.stdout)["gates"]}


# -- everything the gates read is in the chain --------------------------------------------------------------

def test_a_planted_candidate_is_neither_gated_promoted_nor_loaded(registry, tmp_path):
    """A model fitted on all the data placed by hand beside an honest candidate, with its manifest copied in."""
    honest = passed_candidate(registry, 1)
    planted = "20990101T000000000000Z-deadbeef"
    folder = registry.paths.candidate_dir(planted)
    shutil.copytree(registry.paths.candidate_dir(honest), folder)
    import skops.io as sio

    data = sio.dumps(tiny_model(9))
    (folder / "model.skops").write_bytes(data)
    copied = json.loads((folder / "manifest.json").read_text())
    copied.update(id=planted, sha256=hashlib.sha256(data).hexdigest())
    (folder / "manifest.json").write_text(json.dumps(copied, indent=2, sort_keys=True) + "\n")
    checks = gates(registry, planted, config_file(tmp_path / "c.yaml", registry))
    assert not checks["integrity"]["passed"] and "was never entered in the audit log" in checks["integrity"]["detail"]
    refused(cli(registry, "promote", planted, "--confirm", "yes-promote"), 1, "was never entered in the audit log")
    refused(cli(registry, "audit", "verify"), 1, f"candidate {planted} was never entered")
    with pytest.raises(IntegrityError, match="never entered"):
        registry.load_candidate(planted)


def test_an_edited_manifest_window_is_refused(registry, tmp_path):
    candidate = passed_candidate(registry, 2)
    path = registry.paths.candidate_file(candidate, "manifest.json")
    entered = path.read_bytes()
    edited = json.loads(entered)
    edited["training_window"]["train_end"] = "2018-03-01"  # gated on the windows it was fitted on
    edited["training_window"]["embargo_bars"] = 0
    path.write_text(json.dumps(edited, indent=2, sort_keys=True) + "\n")
    checks = gates(registry, candidate, config_file(tmp_path / "c.yaml", registry))
    assert "differs from the one entered at training" in checks["integrity"]["detail"]
    assert "out_of_sample" in checks and not checks["out_of_sample"]["passed"]  # no backtest ran on it
    refused(cli(registry, "promote", candidate, "--confirm", "yes-promote"), 1, "differs from the one entered")
    path.write_bytes(entered)
    assert registry.load_candidate(candidate)[1]["training_window"]["train_end"] == "2019-01-01"


def test_an_operating_point_edited_after_promotion_stops_the_model_loading(registry, tmp_path):
    candidate = passed_candidate(registry, 3)
    registry.promote(candidate, "yes-promote")
    path = registry.paths.candidate_file(candidate, "manifest.json")
    edited = json.loads(path.read_text())
    edited["operating_point"]["min_probability"] = 0.0  # the model switched off, silently
    path.write_text(json.dumps(edited, indent=2, sort_keys=True) + "\n")
    config = config_file(tmp_path / "bt.yaml", registry, data={"start": "2019-01-01", "end": "2019-03-01"})
    done = subprocess.run([sys.executable, "-m", "kraken_global.cli", "backtest", "--config", str(config), "--model",
                           "approved", "--no-plot", "--no-progress", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    refused(done, 1, "differs from the one entered at training")
    refused(cli(registry, "audit", "verify"), 1, f"the manifest of candidate {candidate} differs")
    with pytest.raises(Exception, match="refusing to start trading: the manifest"):
        SessionRunner(registry_config(registry, use_model="approved"), "paper")


def registry_config(registry: ModelRegistry, **ml):
    from kraken_global.config import BacktestConfig

    return BacktestConfig().with_overrides({"ml.artifacts": str(registry.paths.base),
                                            **{f"ml.{k}": v for k, v in ml.items()}})


def _forge(entry: dict, key: bytes) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    entry["hash"] = hmac.new(key, json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
                             hashlib.sha256).hexdigest()
    return json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"


def test_the_trial_ledger_cannot_be_deleted_edited_or_forged(registry, tmp_path):
    candidate = registry.add_candidate(tiny_model(), manifest())
    ledger = TrialLedger(registry)
    for fast in range(7):
        ledger.record("sweep", None, {"fast": fast}, sharpe=fast / 10)
    assert ledger.basis("sha-x", "policy-1").trials == 7  # the DSR deflates by the audited count
    (registry.root / "trials.jsonl").write_text("")  # the old ledger file means nothing now
    assert TrialLedger(registry.root).count() == 7
    lines = registry.audit.path.read_text().splitlines(keepends=True)
    config = config_file(tmp_path / "c.yaml", registry)
    for damage in ("deleted", "edited", "forged"):
        changed = list(lines)
        trials = [i for i, line in enumerate(changed) if '"action":"trial"' in line]
        if damage == "deleted":
            del changed[trials[0]:trials[-1] + 1]
        elif damage == "edited":
            changed[trials[0]] = changed[trials[0]].replace('"sharpe":0.0', '"sharpe":3.0')
        else:
            last = json.loads(changed[-1])
            changed.append(_forge({"seq": last["seq"] + 1, "time": last["time"], "action": "trial",
                                   "chain": last["chain"], "prev_hash": last["hash"],
                                   "details": {"kind": "basis", "model": "x"}}, b"0" * 32))
        registry.audit.path.write_text("".join(changed))
        with pytest.raises(IntegrityError):
            TrialLedger(registry).count()
        refused(cli(registry, "gates", candidate, "--config", str(config)), 1, "audit log")
    registry.audit.path.write_text("".join(lines))
    assert TrialLedger(registry).count() == 7


def test_gates_with_costs_or_caps_below_the_policy_or_other_data_are_refused(registry, tmp_path):
    candidate = registry.add_candidate(tiny_model(), manifest())
    zero_fees = config_file(tmp_path / "free.yaml", registry, broker={
        "fees": {"preset": "custom", "tiers": [{"min_volume": 0, "maker_pct": 0, "taker_pct": 0}]},
        "slippage_bps": 0, "volume_share": None})
    done = cli(registry, "gates", candidate, "--config", str(zero_fees))
    refused(done, 2, "the config's trading setup is looser than the registry's policy")
    assert "below the policy's fee_floor kraken-legacy" in done.stderr and "min_slippage_bps 5" in done.stderr
    assert "max_volume_share 0.1" in done.stderr and registry.validation(candidate) is None
    pin = "ab" * 32
    assert cli(registry, "policy", "set", f"data_sha256={pin}", "--confirm", "yes-change-policy").returncode == 0
    other_data = config_file(tmp_path / "data.yaml", registry, data={"timeframe": "4h", "start": "2018-06-01"})
    refused(cli(registry, "gates", candidate, "--config", str(other_data)), 2, "not the data set the policy pins")
    assert registry.validation(candidate) is None


@pytest.mark.parametrize("value", ["nan", "1e309", "-inf"])
def test_policy_values_must_be_finite(registry, value):
    refused(cli(registry, "policy", "set", f"min_sharpe={value}", "--confirm", "yes-change-policy"), 2,
            "finite number")
    assert registry.policy().min_sharpe == 0.5


def test_a_config_asking_for_a_nan_threshold_is_refused(registry, tmp_path):
    candidate = registry.add_candidate(tiny_model(), manifest())
    path = tmp_path / "nan.yaml"
    path.write_text(f"ml:\n  artifacts: {registry.paths.base}\nrun:\n  scheduler: serial\ngates:\n"
                    "  min_sharpe: .nan\n")
    done = cli(registry, "gates", candidate, "--config", str(path))
    refused(done, 2, "gates.min_sharpe")
    assert "finite number" in done.stderr and registry.validation(candidate) is None


# -- the policy you can see, and never a deadlock ---------------------------------------------------------------

def test_tightening_the_policy_never_deadlocks(registry):
    first, second = passed_candidate(registry, 1), passed_candidate(registry, 2)
    registry.promote(first, "yes-promote")
    registry.promote(second, "yes-promote")
    assert cli(registry, "policy", "set", "min_sharpe=0.9", "--confirm", "yes-change-policy").returncode == 0
    registry.record_validation(second, {"candidate": second, "sha256": registry.file_sha256(second), "passed": False,
                                        "policy_sha256": registry.policy().sha256(), "gates": []})  # re-gated: fails
    approved = registry.approved()  # still loads: live starts, the gates have their champion
    assert approved.manifest["id"] == second
    assert [f.split(" (")[0] for f in approved.record["flags"]][:2] == [
        "approved under an earlier policy", "its latest gates run"]
    runner = SessionRunner(registry_config(registry, use_model="approved"), "paper")
    assert runner.approval["approval"]["id"] == second and not runner.approval["approval"]["under_current_policy"]
    listing = cli(registry, "models", "list")
    assert f"{second}  gates: failed  APPROVED (flagged" in listing.stdout
    history = json.loads(cli(registry, "models", "history").stdout)
    assert history["policy_changes"][-1]["changes"] == {"min_sharpe": "0.9"} and history["approval_flags"]
    verify = cli(registry, "audit", "verify")
    assert verify.returncode == 0 and "policy change at entry" in verify.stdout and "earlier policy" in verify.stdout
    assert cli(registry, "rollback", "--confirm", "yes-rollback").returncode == 0  # to first, also flagged
    assert registry.approved().manifest["id"] == first
    third = passed_candidate(registry, 3)  # gated under the current, stricter policy
    done = cli(registry, "promote", third, "--confirm", "yes-promote")
    assert done.returncode == 0, done.stderr
    assert registry.approved().record["approval"]["under_current_policy"]
    assert not registry.approved().record["flags"]


# -- namespace identity ---------------------------------------------------------------------------------------

def test_a_copied_namespace_is_named_as_a_copy_and_neither_breaks_the_other(registry, tmp_path):
    approved = passed_candidate(registry, 1)
    registry.promote(approved, "yes-promote")
    shutil.copytree(registry.root, registry.paths.base / "copy")
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(registry.paths.base, elsewhere)
    assert cli(registry, "policy", "set", "min_sharpe=0.8", "--confirm", "yes-change-policy",
               namespace="copy").returncode == 0
    original = cli(registry, "audit", "verify")
    assert original.returncode == 0 and "is a copy" not in original.stdout, original.stderr
    assert cli(registry, "policy", "set", "min_sharpe=0.7", "--confirm", "yes-change-policy").returncode == 0
    copy = cli(registry, "audit", "verify", namespace="copy")
    assert copy.returncode == 0 and f"is a copy of {registry.audit.path}" in copy.stdout, copy.stderr
    copied = ModelRegistry(registry.paths.base, "copy").approved()
    assert copied.manifest["id"] == approved and copied.record["copy_of"] == str(registry.audit.path)
    assert any("is a copy of" in flag for flag in copied.record["flags"])
    moved = ModelRegistry(elsewhere)  # a copy at another place, found and named the same way
    assert moved.approved().record["copy_of"] == str(registry.audit.path)
    assert registry.approved().record["copy_of"] is None
    lines = moved.audit.path.read_text().splitlines(keepends=True)
    moved.audit.path.write_text("".join(lines[:-1]))  # once recorded, a copy is anchored: a cut shows
    with pytest.raises(IntegrityError, match="truncated"):
        moved.approved()


# -- crash windows and the pending next state --------------------------------------------------------------------

PROMOTE = "import sys\nfrom kraken_global.registry import ModelRegistry\n" \
          "ModelRegistry(sys.argv[1]).promote(sys.argv[2], 'yes-promote')\n"


def test_an_interrupted_promotion_reads_as_interrupted_never_as_tampering(registry):
    old, new = passed_candidate(registry, 1), passed_candidate(registry, 2)
    registry.promote(old, "yes-promote")
    killed = subprocess.run([sys.executable, "-c", PROMOTE, str(registry.paths.base), new], cwd=ROOT, timeout=120,
                            env={**os.environ, ENV: "promote:after_audit"})
    assert killed.returncode == EXIT_CODE
    verify = cli(registry, "audit", "verify")  # a read-only command: it finishes the change, reports no tampering
    assert verify.returncode == 0 and "edited" not in verify.stderr, verify.stderr
    assert registry.state()["approved"]["id"] == new and not registry.next_file.exists()
    recovered = [e for e in registry.audit.entries() if e["action"] == "recovered"]
    assert "completed the interrupted promote (state 2) from the audit log" in recovered[-1]["details"]["actions"]


@pytest.mark.parametrize("content", [b"garbage\xff", b"[]", b"{}", "forged"])
def test_a_crafted_next_state_is_never_renamed_into_place(registry, content):
    good, bad = passed_candidate(registry, 1), passed_candidate(registry, 2)
    registry.promote(good, "yes-promote")
    if content == "forged":
        entry = {"id": bad, "sha256": registry.file_sha256(bad)}
        content = json.dumps({"seq": 2, "approved": entry, "approvals": [entry]}).encode()
    registry.next_file.write_bytes(content)
    done = cli(registry, "models", "list")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert f"{good}  gates: passed  APPROVED" in done.stdout and not registry.next_file.exists()
    assert registry.approved().manifest["id"] == good


# -- hostile files in the registry and the key folder ----------------------------------------------------------

def test_a_binary_audit_key_is_one_clear_error(registry, audit_key_dir, tmp_path):
    passed_candidate(registry)
    keys = tmp_path / "keys"
    shutil.copytree(audit_key_dir, keys)
    (keys / "audit.key").write_bytes(os.urandom(64))
    done = subprocess.run([sys.executable, "-m", "kraken_global.cli", "audit", "verify", "--artifacts",
                           str(registry.paths.base)], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "KRAKEN_GLOBAL_KEY_DIR": str(keys)})
    refused(done, 1, "is not a valid key (64 hex digits)")


@pytest.mark.parametrize(("attribute", "detail"), [
    ("n_features_in_", "takes 5 inputs, but its manifest's feature schema has 11"),
    ("n_trees_per_iteration_", "not a binary classifier"), ("_loss", "loss is HalfPoissonLoss")])
def test_a_model_that_passes_the_tree_checks_but_breaks_prediction_is_refused_at_load(registry, tmp_path,
                                                                                       attribute, detail):
    candidate = registry.add_candidate(crafted(attribute), manifest())
    checks = gates(registry, candidate, config_file(tmp_path / "c.yaml", registry))
    assert not checks["integrity"]["passed"] and detail in checks["integrity"]["detail"]


def _declaring(data: bytes, unpacked: int) -> bytes:
    """``data`` (a skops zip) with one more member whose central directory entry declares ``unpacked`` bytes."""
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("bomb.npy", b"\0" * 1024)
    out = bytearray(buffer.getvalue())
    struct.pack_into("<I", out, out.rfind(b"PK\x01\x02") + 24, unpacked)
    return bytes(out)


def test_model_size_limits_are_checked_before_loading(registry, tmp_path, monkeypatch):
    from kraken_global.registry import shelf

    save = shelf.save_model

    def bomb(model, path):  # a candidate entered with an archive that would unpack to 4 GiB
        save(model, path)
        path.write_bytes(_declaring(path.read_bytes(), 2 ** 32 - 2))
        return hashlib.sha256(path.read_bytes()).hexdigest()

    monkeypatch.setattr(shelf, "save_model", bomb)
    candidate = registry.add_candidate(tiny_model(), manifest())
    config = config_file(tmp_path / "c.yaml", registry)
    detail = gates(registry, candidate, config)["integrity"]["detail"]
    assert "would unpack to 4,29" in detail and "over the 268,435,456 bytes a model may have" in detail
    big = registry.paths.candidate_file(candidate, "model.skops")
    with open(big, "r+b") as handle:
        handle.truncate(40 * 1024 * 1024)  # sparse: no time to write it
    assert "41,943,040 bytes, over the 33,554,432" in gates(registry, candidate, config)["integrity"]["detail"]
