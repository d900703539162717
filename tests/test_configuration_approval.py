"""A trading configuration is approved like a model: gated out of sample over the grid it was chosen from (the real
walk-forward on bundled data, through the CLI), promoted under the keyed audit chain, refused by ``live`` when it
was not (or was edited by one parameter since), and started anyway only by an explicit, logged, audited override.
Tried the way an impatient user or an attacker with write access to the artifacts folder would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kraken_global.config import load_config
from kraken_global.config.fingerprint import configuration_fingerprint
from kraken_global.errors import ConfigError
from kraken_global.live.credentials import Credentials
from kraken_global.registry import ModelRegistry
from kraken_global.registry.configurations import ConfigurationApprovals
from kraken_global.registry.errors import RegistryError
from kraken_global.sessions.configuration_check import OVERRIDE_WORD, check_trading_configuration
from kraken_global.sessions.session import SessionRunner
from tests.registry_helpers import approved_configuration
from tests.session_helpers import approve_a_model, session_overrides, write_config_file

ROOT = Path(__file__).resolve().parents[1]
GRID = ("--set", "strategy.params.fast=20,40,80", "--set", "strategy.params.slow=150,200,300,500")
RELAXED = ("config_min_oos_sharpe=-10", "config_max_pbo=1", "config_survive_2x_costs=false",
           "config_beat_baseline=false", "config_beat_buy_and_hold=false")


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_global.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


class FakeServer:
    base_url = "http://127.0.0.1:9"  # never reached: every check here happens before anything connects


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    """quick.yaml's baseline (fast 60 / slow 300, added to a 12-point grid) gated on 4h bundled data, 2018-2019,
    under the default policy: it fails."""
    folder = tmp_path_factory.mktemp("config-gates")
    registry_args = ("--config", "configs/quick.yaml", "--artifacts", str(folder / "artifacts"))
    args = ("gates", "--trading-config", *registry_args, *GRID, "--from", "2018-01-01", "--scheduler", "serial",
            "--out", str(folder / "wf"))
    done = cli(*args)
    return folder, registry_args, args, done


def test_the_default_policy_fails_a_configuration_that_does_not_hold_up_out_of_sample(gated):
    folder, _, _, done = gated
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    gates = {g["name"]: g for g in report["gates"]}
    assert list(gates) == ["out_of_sample_days", "walk_forward_sharpe", "pbo", "survives_2x_costs",
                           "beats_sma_baseline", "beats_buy_and_hold", "earlier_failures"]
    assert gates["earlier_failures"]["passed"] and gates["earlier_failures"]["failed_runs"] == []
    assert report["passed"] is False and not gates["walk_forward_sharpe"]["passed"]
    # the grid holds the configuration itself: its own values were added where the --set axes missed them
    assert report["grid_added"] == {"strategy.params.fast": 60}
    assert report["grid"]["strategy.params.fast"] == [20, 40, 80, 60]
    assert report["walk_forward"]["pbo"]["configurations"] == 16
    assert report["fingerprint"] == configuration_fingerprint(load_config(ROOT / "configs/quick.yaml"))
    assert report["trading_setup"]["data"]["sha256"] and report["policy_sha256"]
    assert "FAIL walk_forward_sharpe" in done.stderr and "failed its gates" in done.stderr
    stored = folder / "artifacts" / "kraken_global" / "configurations" / f"{report['fingerprint']}.json"
    assert json.loads(stored.read_text())["passed"] is False


def test_a_failed_configuration_cannot_be_promoted_and_is_shown_unapproved(gated):
    _, registry_args, _, _ = gated
    refused = cli("promote", "--trading-config", *registry_args, "--confirm", "yes-promote")
    assert refused.returncode == 1 and "failed its gates" in refused.stderr and "Traceback" not in refused.stderr
    shown = cli("configs", "show", *registry_args)
    assert shown.returncode == 1 and "gated, not approved" in shown.stdout


def test_a_configuration_that_passes_is_promoted_and_an_edit_of_one_parameter_is_another_configuration(gated):
    folder, registry_args, gate_args, _ = gated
    assert cli("policy", "set", *RELAXED, *registry_args, "--confirm", "yes-change-policy").returncode == 0
    again = cli(*gate_args)  # the sweep resumes: no point runs twice
    assert again.returncode == 0, again.stderr
    assert cli("promote", "--trading-config", *registry_args).returncode == 2  # no confirmation word: nothing
    assert cli("configs", "show", *registry_args).returncode == 1
    promoted = cli("promote", "--trading-config", *registry_args, "--confirm", "yes-promote")
    assert promoted.returncode == 0, promoted.stderr
    shown = cli("configs", "show", *registry_args, "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["approved"] is True
    edited = folder / "edited.yaml"
    tree = yaml.safe_load((ROOT / "configs/quick.yaml").read_text())
    tree["strategy"]["params"]["fast"] = 61
    edited.write_text(yaml.safe_dump(tree))
    other = cli("configs", "show", "--config", str(edited), "--artifacts", str(folder / "artifacts"))
    assert other.returncode == 1 and "never gated" in other.stdout
    verified = cli("audit", "verify", *registry_args, "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["intact"], verified.stderr


def test_an_edited_configuration_report_is_found_and_a_rollback_withdraws_the_approval(gated):
    folder, registry_args, _, _ = gated
    fingerprint = configuration_fingerprint(load_config(ROOT / "configs/quick.yaml"))
    setup = folder / "artifacts" / "kraken_global" / "configurations" / f"{fingerprint}.setup.json"
    original = setup.read_bytes()
    setup.write_text(original.decode().replace('"fast": 60', '"fast": 61'))
    verified = cli("audit", "verify", *registry_args)
    assert verified.returncode == 1 and f"{fingerprint}.setup.json differs" in verified.stderr
    setup.write_bytes(original)
    rolled = cli("rollback", "--trading-config", *registry_args, "--confirm", "yes-rollback")
    assert rolled.returncode == 0, rolled.stderr
    assert cli("configs", "show", *registry_args).returncode == 1
    listed = json.loads(cli("configs", "list", *registry_args, "--json").stdout)
    assert [(row["fingerprint"], row["approved"]) for row in listed] == [(fingerprint, False)]


def live_config(tmp_path: Path, **changes):
    from kraken_global.config import BacktestConfig

    return BacktestConfig().with_overrides({**session_overrides(FakeServer(), tmp_path), **changes})


def test_live_starts_only_on_the_approved_configuration_or_by_the_logged_override(tmp_path):
    config = live_config(tmp_path)
    approve_a_model(config.ml.artifacts)
    credentials = Credentials("key", "c2VjcmV0")
    with pytest.raises(ConfigError, match=r"live refuses trading configuration .* was never gated in namespace "
                                          r"kraken_global\. Gate it: kraken-global gates --trading-config"):
        SessionRunner(config, "live", credentials)
    SessionRunner(config, "paper")  # paper runs anything
    registry = ModelRegistry(config.ml.artifacts)
    approved_configuration(registry, config)
    runner = SessionRunner(config, "live", credentials)
    assert runner.configuration.status["approved"] and "approved in namespace" in runner.configuration.line()
    for key, value in (("regimes.thresholds.trend_band", 0.021), ("live.risk.max_daily_loss_pct", 4.0),
                       ("broker.slippage_bps", 6.0), ("universe.pairs", ["BTC/USD"])):
        with pytest.raises(ConfigError, match="live refuses trading configuration"):
            SessionRunner(config.with_overrides({key: value}), "live", credentials)
    # what does not change a decision is not another configuration: the starting cash, folders, the exchange URL
    same = config.with_overrides({"broker.cash": 123.0, "live.results": str(tmp_path / "elsewhere"),
                                  "live.api_url": "http://127.0.0.1:10", "live.max_bars": 3})
    assert SessionRunner(same, "live", credentials).configuration.fingerprint == runner.configuration.fingerprint


def test_the_override_must_be_the_exact_word_and_is_audited(tmp_path):
    config = live_config(tmp_path, **{"regimes.thresholds.trend_band": 0.03})
    registry = ModelRegistry(config.ml.artifacts)
    for word in ("yes", "YES-TRADE-UNAPPROVED", ""):
        with pytest.raises(ConfigError, match="must be exactly yes-trade-unapproved"):
            check_trading_configuration(config, "live", word, registry)
    with pytest.raises(ConfigError, match="for live sessions"):
        check_trading_configuration(config, "paper", OVERRIDE_WORD, registry)
    check = check_trading_configuration(config, "live", OVERRIDE_WORD, registry)
    assert check.overridden and "NOT approved" in check.line()
    from kraken_global.sessions.configuration_check import record_override

    record_override(check, registry, "live-test", "live")
    entries = registry.audit.verify_entries()
    assert [e["details"]["fingerprint"] for e in entries if e["action"] == "config_override"] == [check.fingerprint]


def test_the_cli_refuses_an_unapproved_configuration_in_one_line(tmp_path):
    config_file = write_config_file(FakeServer(), tmp_path)
    approve_a_model(tmp_path / "artifacts")
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"key": "key", "secret": "c2VjcmV0"}))
    credentials.chmod(0o600)
    done = cli("live", "--config", str(config_file), "--credentials", str(credentials), timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert any("live refuses trading configuration" in line and "--unapproved-config yes-trade-unapproved" in line
               for line in lines), done.stderr


def test_promote_and_rollback_refuse_what_is_not_there(tmp_path):
    registry = ModelRegistry(tmp_path / "artifacts")
    approvals = ConfigurationApprovals(registry)
    with pytest.raises(RegistryError, match="no gates report"):
        approvals.promote("a" * 64, "yes-promote")
    with pytest.raises(RegistryError, match="not approved; nothing to roll back"):
        approvals.rollback("a" * 64, "yes-rollback")
    with pytest.raises(RegistryError, match="not a configuration fingerprint"):
        approvals.promote("../../etc/passwd", "yes-promote")


def test_a_release_that_moves_a_strategy_default_makes_another_configuration(monkeypatch, tmp_path):
    """The config names only what it changes: the code's defaults are bound too, so an approval never carries over
    to a strategy that trades differently after an upgrade."""
    from kraken_global.strategies import TrendFollower

    config = live_config(tmp_path)
    before = configuration_fingerprint(config)
    monkeypatch.setattr(TrendFollower.params, "stop_atr", TrendFollower.params.stop_atr + 0.5)
    assert configuration_fingerprint(config) != before
    pinned = config.with_overrides({"strategy.per_strategy": {"TrendFollower": {"stop_atr": 3.0}}})
    monkeypatch.undo()
    assert configuration_fingerprint(pinned) == before  # the same values, named or defaulted, are the same


def test_a_pair_spelled_the_exchanges_way_is_the_same_configuration_but_another_order_is_not(tmp_path):
    config = live_config(tmp_path, **{"universe.pairs": ["BTC/USD", "ETH/USD"], "universe.benchmark": "BTC/USD"})
    fingerprint = configuration_fingerprint(config)
    for pairs, benchmark in ((["XXBTZUSD", "XETHZUSD"], "XBTUSD"), (["XBT/USD", "eth/usd"], "xxbtzusd")):
        spelled = config.with_overrides({"universe.pairs": pairs, "universe.benchmark": benchmark})
        assert configuration_fingerprint(spelled) == fingerprint, pairs
    # the order is kept: it decides which pair's order a bar handles first, so it is gated as its own configuration
    assert configuration_fingerprint(config.with_overrides({"universe.pairs": ["ETH/USD", "BTC/USD"]})) != fingerprint


def test_a_configuration_gated_again_and_again_until_it_passes_is_not_approved(tmp_path):
    """The research settings (windows, PBO splits, grid, period) are a gates run's own: each failed run is counted,
    and past the policy's config_max_failed_runs a passing run no longer approves the configuration."""
    from kraken_global.gating.configuration import earlier_failures_gate

    registry = ModelRegistry(tmp_path / "artifacts")
    config = live_config(tmp_path)
    approvals = ConfigurationApprovals(registry)
    fingerprint = configuration_fingerprint(config)
    policy = registry.policy()
    assert policy.config_max_failed_runs == 2

    def gates_run(passed: bool) -> None:
        from kraken_global.config.fingerprint import configuration_setup

        entries = registry.recovered_entries()
        gate = earlier_failures_gate(registry.policy(), fingerprint, approvals.failed_runs(entries, fingerprint))
        approvals.record_validation(fingerprint, {"kind": "trading_configuration", "fingerprint": fingerprint,
                                                  "setup": configuration_setup(config), "gates": [gate],
                                                  "passed": passed and gate["passed"],
                                                  "policy_sha256": registry.policy().sha256()})

    gates_run(False)
    gates_run(True)  # passed on its second run: approved, and the approval says it failed once before
    approvals.promote(fingerprint, "yes-promote")
    status = approvals.status(fingerprint)
    assert status["approved"] and any("passed after 1 failed gates run(s)" in flag for flag in status["flags"])
    approvals.rollback(fingerprint, "yes-rollback")
    gates_run(False)
    gates_run(False)  # three failures now: the next run's own gate fails, whatever its figures
    gates_run(True)
    report = approvals.audited_report(fingerprint, registry.recovered_entries())
    assert not report["passed"] and report["gates"][0]["name"] == "earlier_failures"
    assert "failed its gates 3 time(s) before" in report["gates"][0]["detail"]
    with pytest.raises(RegistryError, match=r"failed its gates \(earlier_failures\)"):
        approvals.promote(fingerprint, "yes-promote")
    # a passing run that did not count them (one racing another gates run) is held to the cap by promote itself
    approvals.record_validation(fingerprint, {"kind": "trading_configuration", "fingerprint": fingerprint,
                                              "setup": report["setup"], "gates": [], "passed": True,
                                              "policy_sha256": registry.policy().sha256()})
    with pytest.raises(RegistryError, match="more than the policy's config_max_failed_runs 2: a pass after that"):
        approvals.promote(fingerprint, "yes-promote")
    # raising the cap is the audited policy command, and it shows as looser than the defaults
    registry.set_policy({"config_max_failed_runs": "10"}, "yes-change-policy")
    gates_run(True)
    approvals.promote(fingerprint, "yes-promote")
    flags = approvals.status(fingerprint)["flags"]
    assert any("config_max_failed_runs 10 (default 2)" in flag for flag in flags), flags


def test_a_whole_number_for_a_decimal_parameter_is_the_same_configuration(tmp_path):
    """``stop_atr: 3`` trades as ``3.0`` (the default) does: the same configuration, so it neither loses its approval
    nor escapes its failed gates runs (config_max_failed_runs) by a spelling; another value is another one."""
    config = live_config(tmp_path)
    fingerprint = configuration_fingerprint(config)
    for spelled in ({"TrendFollower": {"stop_atr": 3}}, {"TrendFollower": {"stop_atr": 3.0}},
                    {"MeanReversion": {"entry_z": 2, "exit_z": -0.0}}, {"MeanReversion": {"exit_z": 0}}):
        assert configuration_fingerprint(config.with_overrides({"strategy.per_strategy": spelled})) == fingerprint, \
            spelled
    assert configuration_fingerprint(config.with_overrides(
        {"strategy.per_strategy": {"TrendFollower": {"stop_atr": 3.5}}})) != fingerprint
    single = live_config(tmp_path, **{"strategy.name": "TrendFollower"})
    assert configuration_fingerprint(single.with_overrides({"strategy.params": {"stop_atr": 3}})) == \
        configuration_fingerprint(single)


ATOM = {"symbol": "ATOM/USD", "pair_id": "ATOMUSD", "altname": "ATOMUSD", "pair_decimals": 4, "lot_decimals": 8,
        "ordermin": 0.5, "tick_size": 0.0001}
FOO = {**ATOM, "symbol": "FOO/USD", "pair_id": "FOOUSD", "altname": "FOOUSD"}


def test_a_custom_pair_the_configuration_does_not_trade_is_no_part_of_it(tmp_path):
    """A custom pair declared but neither traded nor the benchmark changes no decision: declaring one (or listing
    them in another order) is the same configuration, so it is no fresh start past config_max_failed_runs. The rules
    of a custom pair that is traded, or is the benchmark, are."""
    config = live_config(tmp_path, **{"universe.pairs": ["BTC/USD", "ATOM/USD"], "universe.custom_pairs": [ATOM]})
    fingerprint = configuration_fingerprint(config)
    assert configuration_fingerprint(config.with_overrides({"universe.custom_pairs": [ATOM, FOO]})) == fingerprint
    assert configuration_fingerprint(config.with_overrides({"universe.custom_pairs": [FOO, ATOM]})) == fingerprint
    assert configuration_fingerprint(config.with_overrides(
        {"universe.custom_pairs": [{**ATOM, "lot_decimals": 2}]})) != fingerprint
    assert configuration_fingerprint(config.with_overrides(
        {"universe.custom_pairs": [ATOM, FOO], "universe.benchmark": "FOO/USD"})) != fingerprint


def test_the_hours_of_a_switched_off_downtime_are_no_part_of_the_configuration(tmp_path):
    """With ``schedule.enabled: false`` every moment trades, whatever hours it names: the same configuration (else
    other hours were a fresh start past config_max_failed_runs); switched on, the hours are part of it."""
    off = live_config(tmp_path, **{"schedule.enabled": False})
    moved = {"schedule.downtime_start": "10:00:00", "schedule.downtime_end": "11:00:00",
             "schedule.transition_minutes": 5}
    assert configuration_fingerprint(off.with_overrides(moved)) == configuration_fingerprint(off)
    on = live_config(tmp_path)
    assert configuration_fingerprint(on.with_overrides(moved)) != configuration_fingerprint(on)
    assert configuration_fingerprint(on) != configuration_fingerprint(off)


def test_a_custom_fee_schedule_that_is_a_preset_tier_for_tier_is_that_preset(tmp_path):
    """``preset: custom`` with the tiers of a preset charges what the preset does: the same configuration (else a
    copied tier table was a fresh start past config_max_failed_runs); one rate changed is another configuration."""
    from kraken_global.fees import PRESETS

    config = live_config(tmp_path)
    preset = config.broker.fees.schedule()
    tiers = [{"min_volume": t.min_volume, "maker_pct": round(t.maker * 100, 6), "taker_pct": round(t.taker * 100, 6)}
             for t in PRESETS[preset.name].tiers]
    custom = config.with_overrides({"broker.fees": {"preset": "custom", "tiers": tiers}})
    assert custom.broker.fees.schedule().tiers == preset.tiers
    assert configuration_fingerprint(custom) == configuration_fingerprint(config)
    tiers[0] = {**tiers[0], "taker_pct": tiers[0]["taker_pct"] + 0.01}
    assert configuration_fingerprint(config.with_overrides({"broker.fees": {"preset": "custom", "tiers": tiers}})) \
        != configuration_fingerprint(config)


def test_minus_zero_anywhere_in_the_configuration_is_zero(tmp_path):
    """``-0.0`` trades as ``0.0`` wherever it is written (a threshold, the slippage): the same configuration, so it
    is no fresh start past config_max_failed_runs."""
    config = live_config(tmp_path)
    for key in ("regimes.thresholds.panic_recent_return", "broker.random_slippage_bps"):
        assert configuration_fingerprint(config.with_overrides({key: -0.0})) == configuration_fingerprint(config), key


def test_a_configuration_that_failed_in_one_namespace_cannot_start_afresh_in_another(tmp_path):
    """A new namespace starts with an empty chain: its count of failed runs must still see the failures of the
    other namespaces in the same artifacts folder."""
    from kraken_global.config.fingerprint import configuration_setup
    from kraken_global.gating.configuration import earlier_failures_gate
    from kraken_global.registry.configurations import failures_elsewhere

    config = live_config(tmp_path)
    fingerprint = configuration_fingerprint(config)
    tried = ModelRegistry(tmp_path / "artifacts")
    fresh = ModelRegistry(tmp_path / "artifacts", "fresh")

    def record(registry: ModelRegistry, passed: bool) -> None:
        ConfigurationApprovals(registry).record_validation(fingerprint, {
            "kind": "trading_configuration", "fingerprint": fingerprint, "setup": configuration_setup(config),
            "gates": [], "passed": passed, "policy_sha256": registry.policy().sha256()})

    for _ in range(3):
        record(tried, False)
    assert failures_elsewhere(fresh, fingerprint) == {"kraken_global": 3}
    gate = earlier_failures_gate(fresh.policy(), fingerprint, [], failures_elsewhere(fresh, fingerprint))
    assert not gate["passed"] and "3 in namespace kraken_global" in gate["detail"]
    record(fresh, True)  # a passing run that did not count them is still refused by promote
    with pytest.raises(RegistryError, match=r"failed its gates 3 time\(s\) before .* 3 in namespace kraken_global"):
        ConfigurationApprovals(fresh).promote(fingerprint, "yes-promote")
    # under a cap raised by the audited command, the approval says where it failed
    fresh.set_policy({"config_max_failed_runs": "5"}, "yes-change-policy")
    record(fresh, True)
    ConfigurationApprovals(fresh).promote(fingerprint, "yes-promote")
    flags = ConfigurationApprovals(fresh).status(fingerprint)["flags"]
    assert "it failed its gates 3 time(s) in namespace kraken_global" in flags
    # an edited sibling chain still counts what it holds
    log = tried.audit.path
    log.write_bytes(log.read_bytes().replace(b'"actor":', b'"actor" :', 1))
    assert failures_elsewhere(fresh, fingerprint) == {"kraken_global": 3}
