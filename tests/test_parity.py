"""``kraken-global parity``: a real paper session against the emulator, replayed through the backtest.

The session runs once (bounded in bars and seconds, as in test_sessions.py); each test works on its own copy of the
results folder, so altering a record in one test cannot leak into another.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from kraken_global.cli import main
from kraken_global.sessions import session as session_module
from kraken_global.sessions.session import SessionRunner, write_session
from tests.session_helpers import LIVE_BARS, emulator, session_config


@pytest.fixture(scope="module")
def recorded_session(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("parity-session")
    with emulator() as server:
        config = session_config(server, root)
        result = SessionRunner(config, "paper").run()
    assert len(result.orders), "the session placed no order in its live bars: nothing to compare"
    return write_session(result, root / "results")


@pytest.fixture
def session_dir(recorded_session, tmp_path) -> Path:
    """A copy of the session folder (the candle record and history stay shared: tests that alter them copy)."""
    copy = tmp_path / "session"
    shutil.copytree(recorded_session, copy)
    return copy


def parity(capsys, folder: Path, *options: str) -> tuple[int, dict | None, str]:
    code = main(["parity", str(folder), "--json", *options])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


def test_the_backtest_replay_of_a_paper_session_takes_the_same_decisions_and_fills(session_dir, capsys):
    code, report, _ = parity(capsys, session_dir)
    assert code == 0, report
    assert report["identical_decisions"] and report["identical"]
    # every live bar (at least max_bars: a busy machine may receive a few at once at the end)
    plan = pd.read_csv(session_dir / "plan.csv", parse_dates=["datetime"])
    live_bars = int((plan["datetime"] >= pd.Timestamp(report["live_from"])).sum())
    assert report["plan"]["compared"] == live_bars >= LIVE_BARS and not report["plan"]["differences"]
    orders = pd.read_csv(session_dir / "orders.csv")
    assert report["orders"]["compared"] == report["orders"]["session"] == report["orders"]["backtest"] == len(orders)
    # every order says who decided it and why, as its fills do
    assert len(orders) and orders["reason"].notna().all() and "unspecified" not in set(orders["reason"])
    assert orders["regime"].notna().all()
    assert not report["orders"]["differences"]
    assert report["fills"]["compared"] == len(pd.read_csv(session_dir / "fills.csv")["order_id"].unique())
    assert report["fills"]["total_cost_usd"] == 0.0 and report["fills"]["total_cost_bps"] == 0.0
    assert json.loads((session_dir / "parity.json").read_text()) == report
    # every order of the session was decided on a live bar
    assert (pd.to_datetime(orders["bar"]) >= pd.Timestamp(report["live_from"])).all()


def test_the_human_report_prints_the_verdict(session_dir, capsys):
    assert main(["parity", str(session_dir)]) == 0
    out = capsys.readouterr().out
    assert "decisions identical" in out and "live bars of the plan" in out


def test_a_changed_regime_and_a_missing_order_are_reported_bar_by_bar_with_exit_1(session_dir, capsys):
    plan = pd.read_csv(session_dir / "plan.csv")
    row = len(plan) - 10  # a live bar
    changed_bar = pd.Timestamp(plan.loc[row, "datetime"])
    plan.loc[row, "regime"] = "PANIC" if plan.loc[row, "regime"] != "PANIC" else "RISK_ON"
    plan.to_csv(session_dir / "plan.csv", index=False)
    orders = pd.read_csv(session_dir / "orders.csv")
    dropped = orders.iloc[0]
    orders.iloc[1:].to_csv(session_dir / "orders.csv", index=False)

    code, report, _ = parity(capsys, session_dir)
    assert code == 1
    assert not report["identical_decisions"]
    regime = [d for d in report["plan"]["differences"] if d["what"] == "regime"]
    assert [pd.Timestamp(d["bar"]) for d in regime] == [changed_bar]
    missing = report["orders"]["differences"]
    assert len(missing) == 1 and missing[0]["session"] == "none"
    assert pd.Timestamp(missing[0]["bar"]) == pd.Timestamp(dropped["bar"])
    assert missing[0]["where"] == f"{dropped['symbol']} {dropped['strategy']}"


def test_a_paper_fill_at_another_price_is_a_difference_and_its_cost_is_measured_in_bps(session_dir, capsys):
    fills = pd.read_csv(session_dir / "fills.csv")
    order_id = int(fills.loc[0, "order_id"])
    fills.loc[fills["order_id"] == order_id, "price"] *= 1.005
    fills.to_csv(session_dir / "fills.csv", index=False)

    code, report, _ = parity(capsys, session_dir)
    assert code == 1
    assert report["identical_decisions"] and not report["identical"]  # a paper session fills as the backtest
    (difference,) = [d for d in report["fills"]["differences"] if d["what"] == "fill price"]
    assert difference["bps"] == pytest.approx(50.0, rel=1e-6)
    side = fills.loc[0, "side"]
    (cost,) = [f for f in report["fills"]["per_order"] if f["cost_usd"]]
    assert cost["cost_bps"] == pytest.approx(50.0 if side == "buy" else -50.0, rel=1e-3)
    assert report["fills"]["total_cost_bps"] != 0.0


def test_bad_input_is_one_line_and_exit_2(session_dir, tmp_path, capsys):
    code, _, err = parity(capsys, tmp_path / "nowhere")
    assert code == 2 and "is not a folder" in err and len(err.strip().splitlines()) == 1

    session = json.loads((session_dir / "session.json").read_text())
    replay = session.pop("replay")
    (session_dir / "session.json").write_text(json.dumps(session))
    code, _, err = parity(capsys, session_dir)
    assert code == 2 and "no replay block" in err and len(err.strip().splitlines()) == 1

    # the candle record changed under a replayed bar: the session's candles cannot be rebuilt
    record = tmp_path / "candles"
    shutil.copytree(replay["record_candles"], record)
    btc = record / "XBTUSD_60.csv"
    lines = btc.read_text().splitlines()
    seconds, *values = lines[10].split(",")
    lines[10] = ",".join([seconds, *[repr(float(v) * 1.01) for v in values]])
    btc.write_text("\n".join(lines) + "\n")
    session["replay"] = {**replay, "record_candles": str(record)}
    (session_dir / "session.json").write_text(json.dumps(session))
    code, _, err = parity(capsys, session_dir)
    assert code == 2 and "cannot be rebuilt" in err and len(err.strip().splitlines()) == 1

    shutil.rmtree(record)
    code, _, err = parity(capsys, session_dir)
    assert code == 2 and "candle record of" in err and len(err.strip().splitlines()) == 1


def test_a_session_that_started_slowly_is_replayed_with_the_gap_it_saw(tmp_path, monkeypatch, capsys):
    """On a busy machine the exchange's clock can run far ahead between the session reading it (where the local
    history is cut) and the feeds fetching Kraken's 720 candles: the session then replays local history, a gap, and
    Kraken's candles. Simulated by reading the clock 800 hours early; the replay must rebuild that very history."""
    real_now = session_module._exchange_now
    monkeypatch.setattr(session_module, "_exchange_now", lambda *a: real_now(*a) - pd.Timedelta(hours=800))
    with emulator() as server:
        config = session_config(server, tmp_path, bars=24)
        result = SessionRunner(config, "paper").run()
    out = write_session(result, tmp_path / "results")
    replayed = result.replay["feeds"]["BTC/USD"]["replayed"]
    span = (pd.Timestamp(replayed["last"]) - pd.Timestamp(replayed["first"])) / pd.Timedelta(hours=1) + 1
    assert span > replayed["bars"], "the session replayed no gap: the simulated slow start did not happen"
    code, report, err = parity(capsys, out)
    assert code == 0, err or report
    assert report["identical"] and report["plan"]["compared"] >= 24
