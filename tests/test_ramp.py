"""The capital ramp: a share of the budget that steps up only after a clean step, caps what the broker lets the bot
hold, survives restarts; and the paper kill switch that holds it (and alerts).

The two sessions run against the emulator's fast clock (twenty market hours per wall second), bounded in bars and
seconds; every wait is on what the session did, never a guessed sleep.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

import pandas as pd
import pytest

from kraken_global.alerts.setup import install_alerts, remove_alerts
from kraken_global.config import BacktestConfig, CapitalConfig
from kraken_global.errors import ConfigError
from kraken_global.sessions.ramp import CapitalRamp, RampRecord, ramp_verdict
from kraken_global.sessions.session import SessionRunner
from kraken_global.sessions.status import format_status
from tests.alert_receiver import AlertReceiver
from tests.session_helpers import TRADING_START, emulator, session_config

START = datetime(2019, 6, 1)


def ramp_config(**ramp) -> CapitalConfig:
    return BacktestConfig().with_overrides({f"live.capital.ramp.{k}": v for k, v in ramp.items()}).live.capital


def record(**values) -> RampRecord:
    return RampRecord(**{"share": 0.05, "step_started": START.isoformat(), **values})


def test_the_verdict_waits_for_the_step_then_steps_only_on_a_clean_record():
    ramp = ramp_config(step_days=7, max_drawdown_pct=10, parity_tolerance_bps=50).ramp
    assert ramp_verdict(record(), ramp, datetime(2019, 6, 7, 23)) == ("wait", [])
    assert ramp_verdict(record(drawdown_pct=9.9, notional=1000, gap_usd=4.9), ramp, datetime(2019, 6, 8)) == \
        ("step", [])
    verdict, reasons = ramp_verdict(record(drawdown_pct=12.5, kill_switch=True, notional=1000, gap_usd=6.0), ramp,
                                    datetime(2019, 6, 8))
    assert verdict == "hold" and reasons == ["drawdown 12.50% above 10%", "the kill switch tripped",
                                             "fills 60.0 bps beyond the fill model (tolerance 50)"]
    assert ramp_verdict(record(step=4, share=1.0), ramp, datetime(2020, 1, 1)) == ("top", [])
    unchecked = ramp_config(parity_tolerance_bps=None).ramp
    assert ramp_verdict(record(notional=1, gap_usd=1), unchecked, datetime(2019, 6, 9)) == ("step", [])


@pytest.mark.parametrize("shares", [[], [0.1, 0.05], [0.5, 0.5], [0, 0.5], [0.5, 1.5]])
def test_ramp_shares_must_rise_within_the_budget(shares):
    with pytest.raises(ConfigError, match=r"live\.capital\.ramp\.shares"):
        ramp_config(shares=shares)


def test_the_ramp_survives_a_restart_follows_a_changed_schedule_and_refuses_a_damaged_state(tmp_path, caplog):
    state = tmp_path / "ramp.json"
    capital = ramp_config(enabled=True, shares=[0.05, 0.1, 0.5], step_days=1, state=str(state))
    ramp = CapitalRamp(capital, "live", model_slippage_bps=5)
    assert ramp.cap_usd(20_000) == pytest.approx(1_000)  # the base is the value when first needed
    for hour in range(25):
        ramp.observe(datetime(2019, 6, 1, hour % 24) + pd.Timedelta(days=hour // 24), 20_000, 0, [])
    assert ramp.record.share == 0.1 and ramp.cap_usd() == pytest.approx(2_000)
    paper = CapitalRamp(capital, "paper", model_slippage_bps=5)  # each mode keeps its own record
    assert paper.record.share == 0.05 and paper.record.base_usd is None
    again = CapitalRamp(capital, "live", model_slippage_bps=5)
    assert again.record.share == 0.1 and again.record.base_usd == 20_000 and again.record.history[-1]["action"] == \
        "step"
    shrunk = CapitalRamp(ramp_config(enabled=True, shares=[0.02, 0.08, 1.0], state=str(state)), "live", 5)
    assert shrunk.record.share == 0.08  # the largest configured share not above the one earned
    assert "the configured shares changed" in caplog.text
    shown = format_status({"state": "running", "ramp": again.status(), "controls": {"paused": True}}, tmp_path)
    assert "ramp         10% of 20,000.00 USD = cap 2,000.00 USD (step 2 of 3); next 50% after 2019-06-03T00:00:00" \
        in shown and "new entries PAUSED from the dashboard" in shown
    state.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read the capital ramp's state"):
        CapitalRamp(capital, "live", 5)


def exposure_after_each_buy(fills: pd.DataFrame) -> list[tuple[pd.Timestamp, float]]:
    """The bot's holdings (at each pair's last fill price) right after each buy."""
    units: dict[str, float] = {}
    price: dict[str, float] = {}
    after = []
    for fill in fills.itertuples():
        units[fill.symbol] = units.get(fill.symbol, 0.0) + (fill.size if fill.side == "buy" else -fill.size)
        price[fill.symbol] = fill.price
        if fill.side == "buy":
            after.append((pd.Timestamp(fill.dt), sum(u * price[s] for s, u in units.items())))
    return after


def test_a_ramp_steps_up_on_the_emulators_clock_while_its_record_is_clean_and_caps_the_bot(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    with emulator(start=TRADING_START) as server:
        config = session_config(server, tmp_path, bars=40).with_overrides({
            "live.capital.ramp.enabled": True, "live.capital.ramp.shares": [0.02, 0.05, 0.1, 0.2, 1.0],
            "live.capital.ramp.step_days": 0.25, "live.capital.ramp.max_drawdown_pct": 50,
            "live.capital.ramp.state": str(tmp_path / "ramp.json")})
        runner = SessionRunner(config, "paper")
        result = runner.run()
    steps = [r for r in caplog.records if getattr(r, "kg_event", None) == "ramp_step"]
    assert len(steps) >= 3, "a clean record of 40 bars did not step a 6-hour ramp three times"
    shares = [r.kg_fields["to_share"] for r in steps]
    assert shares == [0.05, 0.1, 0.2, 1.0][:len(shares)]
    stored = json.loads((tmp_path / "ramp.json").read_text())["paper"]
    assert stored["share"] == shares[-1] and [h["action"] for h in stored["history"]] == ["step"] * len(steps)
    assert runner.ramp.status()["share"] == shares[-1]
    days = [r.kg_fields for r in caplog.records if getattr(r, "kg_event", None) == "daily_summary"]
    assert days and set(days[0]) == {"day", "value", "day_pnl", "fills", "session_pnl"}

    # the cap: 2% of 10,000 USD before the first step, and each share after its step
    assert not result.fills.empty, "the session bought nothing under the ramp"
    base = stored["base_usd"]
    boundaries = [(pd.Timestamp(r.kg_fields["market_time"]), r.kg_fields["to_share"]) for r in steps]
    for when, exposure in exposure_after_each_buy(result.fills):
        share = max([0.02] + [s for t, s in boundaries if t <= when])
        assert exposure <= share * base * 1.02, f"{when}: the bot held {exposure:.2f} USD over its cap"


def test_a_kill_switch_trip_in_a_paper_session_posts_one_alert_without_secrets_and_holds_the_ramp(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    token = "dashboard-token-Hq7Vn2Rk9LmXw4Pz"
    with AlertReceiver() as receiver, emulator(start=TRADING_START) as server:
        hook = receiver.url("/hook/Wd93kLmQp2Xv8RnT")
        config = session_config(server, tmp_path, bars=48).with_overrides({
            "live.risk.max_daily_loss_pct": 0.05, "alerts.webhooks": [{"url": hook, "events": ["kill_switch"]}],
            "live.capital.ramp.enabled": True, "live.capital.ramp.shares": [0.5, 1.0],
            "live.capital.ramp.step_days": 0.5, "live.capital.ramp.max_drawdown_pct": 0.001,
            "live.capital.ramp.state": str(tmp_path / "ramp.json")})
        alerts = install_alerts(config.alerts, [server.key, server.secret, token], session="paper-test")
        try:
            runner = SessionRunner(config, "paper")
            result = runner.run()
        finally:
            remove_alerts(alerts)
        posts = receiver.wait_for(lambda p: len(p) >= 1, timeout=10)
    trips = [r for r in caplog.records if getattr(r, "kg_event", None) == "kill_switch"]
    assert trips, "the kill switch never tripped at a 0.05% daily loss"
    assert [p["body"]["event"] for p in posts] == ["kill_switch"], "not exactly one alert"
    alert = posts[0]["body"]
    assert alert["fields"]["mode"] == "paper" and alert["fields"]["limit_pct"] == 0.05
    assert alert["fields"]["equity"] < alert["fields"]["day_start_equity"]
    for secret in (server.key, server.secret, token, "Wd93kLmQp2Xv8RnT"):
        assert secret not in posts[0]["raw"]

    # the trip flattened the bot (sold at the next bar) and refused buys for the rest of its UTC day
    tripped = pd.Timestamp(trips[0].kg_fields["bar"])
    fills = result.fills.assign(dt=pd.to_datetime(result.fills["dt"]))
    after = fills[fills["dt"] > tripped]
    assert (after["side"] == "sell").any(), "the kill switch sold nothing"
    same_day = after[after["dt"] < tripped.normalize() + pd.Timedelta(days=1)]
    assert not (same_day["side"] == "buy").any(), "a buy went through after the kill switch, the same day"

    # the step with the trip held, naming it; a step up came only after a clean step (flat, after the flatten)
    history = json.loads((tmp_path / "ramp.json").read_text())["paper"]["history"]
    starts = [pd.Timestamp(runner.journal.snapshot()["t"][0])] + [pd.Timestamp(h["market_time"]) for h in history]
    tripped_step = [h for begun, h in zip(starts, history, strict=False)
                    if begun <= tripped <= pd.Timestamp(h["market_time"])]
    assert tripped_step, "the session ended before the step with the trip was judged"
    assert tripped_step[0]["action"] == "hold" and "the kill switch tripped" in tripped_step[0]["reasons"]
    assert all(h["drawdown_pct"] <= 0.001 for h in history if h["action"] == "step")
