"""Attacks on the configuration approval from outside: someone who may write the artifacts folder and the config
files (never the audit key folder), or an impatient user who wants ``live`` to start or the gates to pass.

Each test is a hole that was open: a planted temp file that made the registry write through a symlink, a model
operating point moved by the configuration the gates run without a model, a buy-and-hold rival chosen outside
the configuration's identity, a grid that chose among costs or among things that are no configuration, and a crash
between a configuration's report and its audit entry that left an honest registry looking tampered with. All run
in seconds: nothing here runs a walk-forward (the refusals happen before any backtest)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kraken_global.config import BacktestConfig, load_config
from kraken_global.config.fingerprint import configuration_fingerprint, configuration_setup
from kraken_global.errors import ConfigError
from kraken_global.live.credentials import Credentials
from kraken_global.registry import ModelRegistry
from kraken_global.registry.configurations import ConfigurationApprovals
from kraken_global.registry.crash import ENV as CRASH_ENV
from kraken_global.registry.crash import EXIT_CODE as CRASH_EXIT_CODE
from kraken_global.registry.verification import verify_registry
from kraken_global.sessions.session import SessionRunner
from tests.registry_helpers import approved_configuration, passed_candidate
from tests.session_helpers import approve_a_model, session_overrides

ROOT = Path(__file__).resolve().parents[1]


class FakeServer:
    base_url = "http://127.0.0.1:9"  # never reached: every check here happens before anything connects


def cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_global.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


def report_for(registry: ModelRegistry, config: BacktestConfig, passed: bool = True, note: str = "") -> dict:
    fingerprint = configuration_fingerprint(config)
    return {"kind": "trading_configuration", "fingerprint": fingerprint, "setup": configuration_setup(config),
            "gates": [], "passed": passed, "policy_sha256": registry.policy().sha256(), "note": note}


# -- the registry writes through nothing an attacker planted ---------------------------------------------------

def test_a_planted_temp_file_symlink_cannot_make_the_registry_overwrite_a_file_outside_it(tmp_path):
    """``atomic_write`` wrote to ``.NAME.tmp-PID`` with a plain ``open``, which follows a symlink: whoever may write
    the artifacts folder planted that name (PIDs are guessable) pointing at any file of the registry's user, the
    audit key for one, and the next gates run overwrote it with a JSON report."""
    registry = ModelRegistry(tmp_path / "artifacts")
    config = BacktestConfig()
    fingerprint = configuration_fingerprint(config)
    victim = tmp_path / "elsewhere" / "audit.key"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    folder = registry.root / "configurations"
    folder.mkdir()
    planted = [folder / f".{fingerprint}.{name}.tmp-{os.getpid()}" for name in ("setup.json", "json", "json.next")]
    planted[0].symlink_to(victim)
    planted[1].symlink_to(victim)
    os.mkfifo(planted[2])  # a FIFO must not hang the write either
    ConfigurationApprovals(registry).record_validation(fingerprint, report_for(registry, config, passed=False))
    assert victim.read_text() == "precious\n"
    assert json.loads((folder / f"{fingerprint}.json").read_text())["fingerprint"] == fingerprint
    assert not planted[0].exists() and not planted[2].exists()  # the names the registry wrote under
    assert verify_registry(registry)[1] == []


# -- what the configuration decides is what the gates measured -------------------------------------------------

def test_a_configuration_cannot_move_the_model_operating_point_per_strategy(tmp_path):
    """``strategy.per_strategy.<sleeve>.min_probability`` was accepted and, in a session with the approved model,
    replaced the threshold the model was gated at (``params.setdefault``): 0 switched the model off for that sleeve.
    The configuration's gates run without a model, so nothing ever measured it, and ``bind_operating_point`` (which
    refuses another ``ml.min_probability``) never saw it."""
    for section in ({"name": "regime", "per_strategy": {"TrendFollower": {"min_probability": 0.0}}},
                    {"name": "TrendFollower", "params": {"min_probability": 0.9}}):
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({"strategy": section}))
        with pytest.raises(ConfigError, match=r"min_probability: .*ml\.min_probability"):
            load_config(path)


def live_config(tmp_path: Path, **changes) -> BacktestConfig:
    return BacktestConfig().with_overrides({**session_overrides(FakeServer(), tmp_path), **changes})


def test_the_benchmark_the_gates_held_buy_and_hold_to_is_part_of_the_configuration(tmp_path):
    """``beats_buy_and_hold`` compares with buy-and-hold of ``universe.benchmark``, but the benchmark was outside the
    fingerprint: gate with a benchmark that only lost (or a stablecoin), pass, and trade live with BTC/USD under the
    same approval."""
    config = live_config(tmp_path)
    approve_a_model(config.ml.artifacts)
    approved_configuration(ModelRegistry(config.ml.artifacts), config)
    credentials = Credentials("key", "c2VjcmV0")
    assert SessionRunner(config, "live", credentials).configuration.status["approved"]
    other = config.with_overrides({"universe.benchmark": "ETH/USD"})
    assert configuration_fingerprint(other) != configuration_fingerprint(config)
    assert configuration_setup(other)["universe"]["benchmark"] == "ETH/USD"
    with pytest.raises(ConfigError, match="live refuses trading configuration"):
        SessionRunner(other, "live", credentials)


GATES = ("gates", "--trading-config", "--config", "configs/quick.yaml", "--scheduler", "serial",
         "--set", "strategy.params.fast=20,30,40,50,70,80,90,100,110,120")


@pytest.mark.parametrize(("axis", "refusal"), [
    ("broker.slippage_bps=0,5", "costs"),  # the walk-forward would choose the cheapest costs: below the policy
    ("broker.fees.preset=kraken-legacy,kraken-pro", "costs"),
    ("universe.benchmark=ETH/USD", "benchmark"),  # the legs' buy-and-hold would be the chosen point's rival
    ("run.seed=1,2", "not part of the trading configuration"),  # an inert axis doubles the columns PBO counts
    ("ml.use_model=approved", "not part of the trading configuration"),
    ("data.directory=tests/data", "not part of the trading configuration"),
    ("broker={cash: 5000.0}", "not part of the trading configuration"),
])
def test_the_grid_of_a_configuration_holds_only_choices_the_configuration_makes(tmp_path, axis, refusal):
    """The gates read the walk-forward over the grid, and its out-of-sample legs trade the point chosen in each
    window, not the configuration: an axis outside the configuration (or over costs) let the legs trade a cheaper
    market, another data folder, a model, or a rival of the user's choice, all under the configuration's name."""
    done = cli(*GATES, "--set", axis, "--artifacts", str(tmp_path / "artifacts"), "--out", str(tmp_path / "wf"))
    assert done.returncode == 2, done.stderr
    assert refusal in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "wf").exists()  # refused before any backtest


def test_the_grid_must_hold_the_configuration_itself(tmp_path):
    """The configuration's own value is added to an axis that misses it, compared with ``==``: ``60.0`` counted as
    quick.yaml's ``fast: 60``, but a whole-number parameter refuses 60.0, so the configuration never ran."""
    done = cli("gates", "--trading-config", "--config", "configs/quick.yaml", "--scheduler", "serial",
               "--set", "strategy.params.fast=20,30,40,50,60.0,70,80,90,100,110", "--artifacts",
               str(tmp_path / "artifacts"), "--out", str(tmp_path / "wf"))
    assert done.returncode == 2 and "does not hold the configuration itself" in done.stderr, done.stderr


# -- a crash between the report and its audit entry ---------------------------------------------------------------

RECORD = """
import sys
from kraken_global.config import BacktestConfig
from kraken_global.config.fingerprint import configuration_fingerprint
from kraken_global.registry import ModelRegistry
from kraken_global.registry.configurations import ConfigurationApprovals
from tests.test_configuration_attacks import report_for

registry, config = ModelRegistry(sys.argv[1]), BacktestConfig()
report = report_for(registry, config, passed=False, note="the re-run")
ConfigurationApprovals(registry).record_validation(configuration_fingerprint(config), report)
"""


@pytest.mark.parametrize("step", ["config_validation:after_next", "config_validation:after_audit"])
def test_a_crash_between_the_report_and_its_audit_entry_leaves_the_registry_honest(tmp_path, step):
    """A configuration is gated again (after a policy change, on more data) and the process dies between writing
    the new report and its audit entry: the report on disk was the new one, the chain's last entry the old one, so
    ``audit verify`` called an honest registry tampered with and ``promote`` refused, until the gates ran again.
    Now the report a crash interrupts is kept aside until its entry is written, and finished from the chain."""
    registry = ModelRegistry(tmp_path / "artifacts")
    config = BacktestConfig()
    fingerprint = approved_configuration(registry, config)
    crashed = subprocess.run([sys.executable, "-c", RECORD, str(tmp_path / "artifacts")], cwd=ROOT,
                             capture_output=True, text=True, timeout=60, env={**os.environ, CRASH_ENV: step})
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr
    registry = ModelRegistry(tmp_path / "artifacts")
    approvals = ConfigurationApprovals(registry)
    assert verify_registry(registry)[1] == []
    report = approvals.audited_report(fingerprint, registry.audit.verify_entries())
    assert report.get("note") == ("the re-run" if step.endswith("after_audit") else None)
    status = approvals.status(fingerprint)
    assert status["approved"]
    if step.endswith("after_audit"):  # the failed re-run was recorded: the approval stands, flagged
        assert any("later gates run failed" in flag for flag in status["flags"])
    assert not list((registry.root / "configurations").glob("*.next"))


# -- the sweep a configuration's gates resume from ----------------------------------------------------------------

def test_the_gates_resume_only_sweep_points_the_registry_ran(tmp_path):
    """The gates resume the sweep in ``--out``, a results folder outside the registry, and took every point found
    there as it was: its daily returns choose the point each walk-forward window trades and make the PBO. A line
    edited there (returns moved between windows) or planted (a strong rival marked as refused) passed the gates on
    made-up evidence. The ledger now vouches for each line's SHA256 (a short period keeps this to one small sweep:
    the walk-forward itself then refuses the period, after the sweep)."""
    args = (*GATES, "--from", "2019-10-01", "--artifacts", str(tmp_path / "artifacts"), "--out", str(tmp_path / "wf"))
    first = cli(*args)
    points = tmp_path / "wf" / "points.jsonl"
    assert first.returncode == 2 and "needs at least" in first.stderr, first.stderr
    original = points.read_text()
    assert len(original.splitlines()) == 11  # the grid and quick.yaml's own fast: 60
    again = cli(*args)  # the registry's own points resume
    assert again.returncode == 2 and "needs at least" in again.stderr and "vouch" not in again.stderr, again.stderr
    lines = original.splitlines()
    edited = json.loads(lines[0])
    edited["daily_returns"] = edited["daily_returns"][::-1]
    planted = {key: value for key, value in json.loads(lines[3]).items() if key in ("point", "overrides")}
    for tampered in ([json.dumps(edited, sort_keys=True), *lines[1:]],
                     [*lines[:3], json.dumps({**planted, "error": "refused"}, sort_keys=True), *lines[4:]]):
        points.write_text("\n".join(tampered) + "\n")
        refused = cli(*args)
        assert refused.returncode == 1 and "does not vouch for" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    assert points.read_text() != original  # refused before the sweep ran anything again
    other = cli(*args[:-4], "--set", "strategy.params.slow=300,400", *args[-4:])  # another sweep's folder
    assert other.returncode == 2 and "holds another sweep" in other.stderr, other.stderr


def test_points_that_trade_alike_count_once_in_the_pbo_of_a_configuration():
    """Five configurations and an axis the backtests never meet (``live.risk``: sessions only) made ten columns with
    pairwise equal returns: PBO was computed where it means nothing (fewer than ten configurations)."""
    import numpy as np

    from kraken_global.gating.configuration import configuration_gates, distinct_pbo
    from kraken_global.gating.policy import GatePolicy
    from kraken_global.research.pbo import pbo

    five = np.random.default_rng(3).normal(0.0005, 0.02, (540, 5))
    twins = np.repeat(five, 2, axis=1)
    walk_pbo = pbo(twins, 16).to_dict()  # what the walk-forward computes over every column: a number
    counted = distinct_pbo(walk_pbo, twins, 16)
    assert counted["identical_points"] == 5 and "at least 10 configurations" in counted["refused"]
    walk = {"stitched": {"sharpe": 1.0, "days": 400}, "pbo": counted, "cost_stress": {"survives_2x_costs": True},
            "buy_and_hold": {"sharpe": 0.1}}
    gates = {g["name"]: g for g in configuration_gates(GatePolicy(), walk, {"sharpe": 0.1})}
    assert not gates["pbo"]["passed"] and "could not be computed" in gates["pbo"]["detail"]
    ten = np.random.default_rng(4).normal(0.0005, 0.02, (540, 10))
    assert distinct_pbo(pbo(ten, 16).to_dict(), ten, 16) == pbo(ten, 16).to_dict()  # all distinct: unchanged


def test_a_configuration_approved_in_a_lenient_or_copied_namespace_says_so_in_its_session_line(tmp_path):
    """``ml.namespace`` is no part of a configuration: a config may point at a namespace whose policy was relaxed
    (audited, legitimately) or at a copy of another one. The model's approval line said so; the configuration's own
    line (and ``session.trading_configuration`` in metrics.json) said only "approved"."""
    import shutil

    config = live_config(tmp_path, **{"ml.namespace": "lenient"})
    registry = ModelRegistry(config.ml.artifacts, "lenient")
    registry.set_policy({"config_max_pbo": "1", "config_beat_buy_and_hold": "false"}, "yes-change-policy")
    registry.promote(passed_candidate(registry, operating_point={"min_probability": 0.05, "horizon_bars": 24}),
                     "yes-promote")
    approved_configuration(registry, config)
    credentials = Credentials("key", "c2VjcmV0")
    line = SessionRunner(config, "live", credentials).configuration.line()
    assert "approved in namespace lenient" in line and "looser than the defaults for configurations" in line
    assert "config_max_pbo 1.0 (default 0.3)" in line and "config_beat_buy_and_hold" in line
    shutil.copytree(registry.root, tmp_path / "artifacts" / "copied")
    copied = SessionRunner(config.with_overrides({"ml.namespace": "copied"}), "live", credentials).configuration
    assert copied.status["approved"] and "namespace copied is a copy of" in copied.line()
