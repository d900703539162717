"""The operator's side of the CLI without a session: quick commands stay light, every subcommand's help says what
it does with an example, and the status files are read and judged correctly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kraken_global.cli import build_parser, main
from kraken_global.errors import ConfigError
from kraken_global.sessions.status import StatusBoard, format_status, latest_session, read_status

HEAVY = ("sklearn", "skops", "dask", "distributed", "backtrader", "ccxt", "pandas", "matplotlib")


@pytest.mark.parametrize("args", [
    ["--help"], ["models", "list"], ["promote", "X", "--confirm", "no"], ["rollback"], ["audit", "verify"],
    ["status", "--results", "."],
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
