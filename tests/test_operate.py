"""Operating a session as a bot: real signals to a real ``kraken-global paper|live`` process against the emulator.

Each test waits on what the session writes (its status file, its exit), never on a guessed sleep; every wait is
bounded, and the session itself by ``live.max_idle_seconds``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from kraken_global.registry import ModelRegistry
from kraken_global.sessions.configuration_check import OVERRIDE_WORD
from tests.session_helpers import (
    approve_a_model,
    emulator,
    exchange_orders,
    exchange_trades,
    state_rows,
    write_config_file,
    write_credentials,
)

UNBOUNDED = 100_000  # live bars: the session ends by a signal (or, if the test fails, by max_idle_seconds)
WAIT = 180.0


def start_session(tmp_path: Path, mode: str, *options: str, env: dict | None = None) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "session"
    command = [sys.executable, "-m", "kraken_global.cli", mode, "--config", str(tmp_path / "session.yaml"),
               "--out", str(out), "--quiet", *options]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})})
    return process, out


def status_of(out: Path) -> dict:
    try:
        return json.loads((out / "status.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def wait_for(process: subprocess.Popen, what: str, condition) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"the session ended ({process.returncode}) before {what}: {process.stderr.read()}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"no {what} within {WAIT} s")


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=WAIT)
    return process.returncode, stdout, stderr


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_global.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def log_text(out: Path) -> str:
    return Path(status_of(out)["log"]).read_text()


def test_ctrl_c_ends_a_paper_session_cleanly_with_every_result_file_and_a_status_to_read(tmp_path):
    with emulator() as server:
        write_config_file(server, tmp_path, bars=UNBOUNDED)
        port = free_port()
        process, out = start_session(tmp_path, "paper", "--status-port", str(port))
        try:
            wait_for(process, "a paper fill", lambda: status_of(out).get("fills", 0) >= 1)
            running = cli("status", str(out), cwd=tmp_path)
            served = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10).read())
            healthy = cli("status", "--check", "--results", str(tmp_path), cwd=tmp_path)
        finally:
            process.send_signal(signal.SIGINT)
        code, stdout, stderr = finish(process)
        ended = cli("status", "--check", str(out), cwd=tmp_path)

    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert running.returncode == 0 and f"session {out}: paper running" in running.stdout
    assert served["mode"] == "paper" and served["state"] == "running" and served["fills"] >= 1
    assert served["poll_seconds"] == 0.05 and served["polled_at"]  # the heartbeat between bars
    assert healthy.returncode == 0 and healthy.stdout.startswith("healthy: paper session running, feed LIVE")
    assert ended.returncode == 1 and "the paper session is not running: stopped (stop signal)" in ended.stdout
    assert {p.name for p in out.iterdir()} >= {"metrics.json", "fills.csv", "plan.csv", "session.json", "status.json",
                                               "report.png"}
    assert json.loads((out / "session.json").read_text())["stopped_by_signal"] is True
    fills = pd.read_csv(out / "fills.csv")
    status = status_of(out)
    assert status["state"] == "stopped" and status["fills"] == len(fills) >= 1
    assert "paper session stopped" in stdout and "no annualized figures" in stdout
    log = log_text(out)
    assert log.count(" fill paper-") == len(fills), "a fill without its log line"
    assert log.count(" order paper-") >= fills["order_id"].nunique()
    assert "warm-up done (DELAYED -> LIVE)" in log and " LIVE regime " in log
    finished = cli("status", "--results", str(tmp_path), cwd=tmp_path)  # the latest session under --results
    assert finished.returncode == 0 and "paper stopped (stop signal)" in finished.stdout


def test_sigterm_ends_a_live_session_cleanly_and_the_state_matches_the_exchange(tmp_path):
    """Run as a container runs it: a user whose home cannot be written (here a file, so even root cannot), the key
    lock on a volume named by KRAKEN_GLOBAL_LOCK_DIR (live.key_lock_dir unset)."""
    volume, home = tmp_path / "volume", tmp_path / "home"
    home.write_text("not a folder")
    with emulator() as server:
        config = write_config_file(server, tmp_path, bars=UNBOUNDED)
        config.write_text(config.read_text().replace(f"key_lock_dir: {tmp_path / 'keys'}", "key_lock_dir: null"))
        approve_a_model(tmp_path / "artifacts")
        credentials = write_credentials(server, tmp_path / "credentials.json")
        process, out = start_session(tmp_path, "live", "--credentials", str(credentials), "--unapproved-config",
                                     OVERRIDE_WORD,
                                     env={"HOME": str(home), "KRAKEN_GLOBAL_LOCK_DIR": str(volume),
                                          "MPLCONFIGDIR": str(tmp_path / "mpl")})
        try:
            wait_for(process, "a live fill", lambda: status_of(out).get("fills", 0) >= 1)
        finally:
            process.send_signal(signal.SIGTERM)
        code, stdout, stderr = finish(process)
        orders, trades = exchange_orders(server), exchange_trades(server)

    assert code == 0, stderr
    assert "live session stopped" in stdout
    assert {p.name for p in out.iterdir()} >= {"metrics.json", "fills.csv", "plan.csv", "session.json"}
    named = "namespace kraken_global, policy "  # every trading output names the namespace and the policy
    assert named in stdout and named in status_of(out)["model_registry"] and named in log_text(out)
    assert json.loads((out / "metrics.json").read_text())["model"]["registry"]["namespace"] == "kraken_global"
    state = tmp_path / "state.sqlite"
    db = sqlite3.connect(state)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    assert sorted(f["trade_id"] for f in state_rows(state, "fills")) == sorted(trades)
    assert len(pd.read_csv(out / "fills.csv")) == len(trades)
    assert not [o for o in orders if o.status == "open"], "an order stayed open after the stop (live.on_stop: cancel)"
    log = log_text(out)
    for order in orders:  # every order the exchange got was announced with its client id
        assert f"order {order.cl_ord_id}:" in log
    assert log.count(" fill ") >= 1
    assert [p.suffix for p in sorted(volume.iterdir())] == [".lock", ".nonce"]  # the lock and nonce floor


def test_a_second_signal_stops_a_live_session_at_once_and_the_state_stays_consistent(tmp_path):
    with emulator() as server:
        write_config_file(server, tmp_path, bars=UNBOUNDED)
        approve_a_model(tmp_path / "artifacts")
        credentials = write_credentials(server, tmp_path / "credentials.json")
        process, out = start_session(tmp_path, "live", "--credentials", str(credentials),
                                     "--unapproved-config", OVERRIDE_WORD)
        try:
            wait_for(process, "a live bar", lambda: status_of(out).get("live_bars", 0) >= 2)
        finally:
            process.send_signal(signal.SIGINT)  # two different signals: the same one twice may be delivered once
            process.send_signal(signal.SIGTERM)
        code, stdout, stderr = finish(process)
        trades = exchange_trades(server)

    assert code == 130, stderr
    assert "Traceback" not in stderr and "stopped at once" in stdout
    db = sqlite3.connect(tmp_path / "state.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    assert {f["trade_id"] for f in state_rows(tmp_path / "state.sqlite", "fills")} <= set(trades)
    assert status_of(out)["state"] == "stopped"
    # started on an ungated configuration by the override: said in the status and the log, entered in the chain
    assert "NOT approved (never gated): started by override" in status_of(out)["configuration"]
    log_text = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "UNAPPROVED trading configuration" in log_text
    entries = ModelRegistry(tmp_path / "artifacts").audit.verify_entries()
    assert [e["details"]["mode"] for e in entries if e["action"] == "config_override"] == ["live"]


@pytest.mark.parametrize("signum", [signal.SIGINT])
def test_a_session_stopped_during_its_warm_up_still_writes_its_results(tmp_path, signum):
    with emulator() as server:
        write_config_file(server, tmp_path, bars=UNBOUNDED)
        process, out = start_session(tmp_path, "paper")
        try:
            wait_for(process, "the status file", lambda: bool(status_of(out)))
        finally:
            process.send_signal(signum)
        code, _, stderr = finish(process)
    assert code == 0, stderr
    assert (out / "metrics.json").exists() and status_of(out)["state"] == "stopped"
