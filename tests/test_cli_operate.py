"""The operator's side of the CLI without a session: quick commands stay light, every subcommand's help says what
it does with an example, and the status files are read and judged correctly."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from kraken_global.cli import build_parser, main
from kraken_global.config import BacktestConfig
from kraken_global.errors import ConfigError
from kraken_global.sessions.health import judge
from kraken_global.sessions.status import StatusBoard, format_status, latest_session, read_status
from kraken_global.sessions.status_http import serve_status

HEAVY = ("sklearn", "skops", "dask", "distributed", "backtrader", "ccxt", "pandas", "matplotlib")


@pytest.mark.parametrize("args", [
    ["--help"], ["models", "list"], ["promote", "X", "--confirm", "no"], ["rollback"], ["audit", "verify"],
    ["status", "--results", "."], ["status", "--check", "--results", "."],
])
def test_quick_commands_import_none_of_the_heavy_libraries(tmp_path, args):
    if args[0] not in ("--help", "status"):
        args = [*args, "--artifacts", str(tmp_path / "artifacts")]
    probe = ("import sys\nfrom kraken_global.cli import main\n"
             f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
             f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


def test_every_subcommand_help_has_a_description_and_an_example():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    for name, sub in commands.choices.items():
        text = sub.format_help()
        assert sub.description and "example:" in text and ".venv/bin/kraken-global" in text, name
    for name in ("promote", "rollback", "models", "audit", "status", "paper", "live", "emulator"):
        assert "--scheduler" not in commands.choices[name].format_help(), f"{name} shows Dask options"


def test_status_reads_a_finished_session_and_judges_a_dead_one(tmp_path, capsys):
    finished = StatusBoard(tmp_path / "paper-1", mode="paper", exchange="http://127.0.0.1:1")
    finished.update(state="finished", ended="session bounds reached", fills=2, value=10_050.0, cash=50.0,
                    positions={"BTC/USD": {"size": 0.5, "value": 10_000.0}}, open_orders=[])
    crashed = StatusBoard(tmp_path / "live-2", mode="live")
    crashed.update(pid=2 ** 22 + 12_345)  # no such process: a session that died without its last write
    os.utime(crashed.path, (1, 1))  # older than the finished one
    assert latest_session(tmp_path) == tmp_path / "paper-1"
    assert main(["status", "--results", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "paper finished (session bounds reached)" in shown and "BTC/USD 0.5 (10,000.00 USD)" in shown
    assert read_status(tmp_path / "live-2")["state"].startswith("gone")
    assert "live gone" in format_status(read_status(tmp_path / "live-2"), tmp_path / "live-2")
    assert main(["status", str(tmp_path / "paper-1"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fills"] == 2


@pytest.mark.parametrize("content", [b"{torn", b"[1]", b"\xff\xfe"])
def test_a_damaged_status_file_is_one_clear_error(tmp_path, content):
    (tmp_path / "status.json").write_bytes(content)
    with pytest.raises(ConfigError, match="status"):
        read_status(tmp_path)


def test_the_status_file_is_replaced_whole(tmp_path):
    board = StatusBoard(tmp_path, mode="paper")
    for bar in range(50):
        board.update(live_bars=bar)
    assert json.loads((tmp_path / "status.json").read_text())["live_bars"] == 49
    assert [p.name for p in Path(tmp_path).iterdir()] == ["status.json"], "a temporary file was left behind"


NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
FRESH = {"state": "running", "mode": "live", "link": "ok", "feed": "LIVE", "poll_seconds": 10,
         "updated_at": "2023-11-14T22:12:20Z", "exchange": "https://api.kraken.com"}


@pytest.mark.parametrize("change, healthy, reason", [
    ({}, True, "healthy: live session running, feed LIVE, last bar -, status written 60 s ago"),
    ({"state": "stopping"}, True, "healthy"),
    ({"updated_at": "2023-11-14T22:11:19Z"}, False, "has not written its status for 121 s (limit 120 s)"),
    ({"updated_at": "2023-11-14T22:11:19Z", "poll_seconds": 60}, True, "healthy"),  # 3 polls: 180 s
    ({"updated_at": "2023-11-14T22:09:00Z", "poll_seconds": 60}, False, "for 260 s (limit 180 s)"),
    ({"state": "failed", "ended": "exchange unreachable"}, False, "not running: failed (exchange unreachable)"),
    ({"state": "gone (the process ended without writing its last status)"}, False, "not running: gone"),
    ({"link": "DOWN (polls fail; retrying)", "polled_at": "2023-11-14T22:00:00Z"}, False,
     "cannot reach the exchange https://api.kraken.com (DOWN (polls fail; retrying); last answer 2023-11-14T22:00"),
    ({"updated_at": "yesterday"}, False, "no readable updated_at"),
])
def test_a_session_is_healthy_only_while_it_runs_reaches_the_exchange_and_writes_its_status(change, healthy, reason):
    verdict = judge({**FRESH, **change}, NOW)
    assert verdict.healthy is healthy and reason in verdict.reason


def test_status_check_finds_the_running_session_and_answers_in_its_exit_code(tmp_path, capsys):
    ended = StatusBoard(tmp_path / "live-1", mode="live")
    ended.update(state="failed", ended="another kraken-global session is using this API key")
    running = StatusBoard(tmp_path / "live-0", mode="live", link="ok", poll_seconds=10)
    running.update(feed="LIVE")
    os.utime(running.path, (1, 1))  # the refused one wrote last: --check still judges the running one
    assert main(["status", "--check", "--results", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("healthy: live session running, feed LIVE")
    assert main(["status", "--check", "--max-age", "1e-9", str(tmp_path / "live-0")]) == 1
    assert "has not written its status" in capsys.readouterr().out
    assert main(["status", "--check", str(tmp_path / "live-1")]) == 1
    assert "not running: failed (another kraken-global session" in capsys.readouterr().out
    assert main(["status", "--check", "--results", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().out.strip() == f"no running session under {tmp_path / 'none'}/"
    assert main(["status", "--max-age", "5", "--results", str(tmp_path)]) == 2  # --max-age needs --check


def test_the_status_served_beyond_loopback_is_warned_about_and_a_host_name_is_refused(tmp_path, caplog):
    with pytest.raises(ConfigError, match="'localhost' is not an IP address to listen on"):
        BacktestConfig().with_overrides({"live.status_host": "localhost"})
    board = StatusBoard(tmp_path, mode="paper")
    board.update()
    with caplog.at_level(logging.WARNING, logger="kraken_global.session"):
        server = serve_status(board, 0, "0.0.0.0")  # as in a container whose port Docker publishes
    try:
        answer = urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/status", timeout=10)
        served = json.loads(answer.read())
    finally:
        server.shutdown()
    assert served["mode"] == "paper"
    assert "beyond this host's loopback: whoever reaches that address reads the session's positions" in caplog.text


def test_a_heartbeat_rewrites_the_status_only_when_it_is_a_few_seconds_old(tmp_path, monkeypatch):
    board = StatusBoard(tmp_path, mode="paper")
    board.update(feed="LIVE")
    board.beat()  # just written: not again, the next update carries it
    assert "polled_at" not in read_status(tmp_path) and board.snapshot()["polled_at"]
    monkeypatch.setattr("kraken_global.sessions.status.BEAT_SECONDS", 0.0)  # as if BEAT_SECONDS had passed
    board.beat()
    assert read_status(tmp_path)["polled_at"] == read_status(tmp_path)["updated_at"]
