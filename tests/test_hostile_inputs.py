"""Hostile inputs through the real command line: each ends in one line naming the problem, no traceback.

Bad input (a config, a data file, an argument, credentials) exits 2; a damaged registry file exits 1, as every
registry integrity failure does (see ``kraken_global.cli``).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kraken_global.registry import ModelRegistry
from tests.registry_helpers import passed_candidate

QUICK = Path(__file__).parents[1] / "configs" / "quick.yaml"


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def config(tmp: Path, text: str | bytes) -> list[str]:
    return ["backtest", "--config", str(write(tmp / "c.yaml", text)), "--no-plot", "--no-progress"]


def params(tmp: Path, name: str, body: str) -> list[str]:
    return config(tmp, f"strategy:\n  name: {name}\n  params:\n{body}")


def registry_with_approved(tmp: Path) -> ModelRegistry:
    registry = ModelRegistry(tmp / "artifacts")
    registry.promote(passed_candidate(registry), "yes-promote")
    return registry


def live_with_credentials(tmp: Path, credentials: Path) -> list[str]:
    registry_with_approved(tmp)
    session = write(tmp / "s.yaml", f"ml:\n  artifacts: {tmp / 'artifacts'}\nlive:\n  logs: {tmp / 'logs'}\n")
    return ["live", "--config", str(session), "--credentials", str(credentials), "--api-url", "http://127.0.0.1:9"]


def secret_file(tmp: Path, content: dict | str) -> Path:
    path = write(tmp / "creds.json", content if isinstance(content, str) else json.dumps(content))
    path.chmod(0o600)
    return path


def corrupt_state(tmp: Path, content: bytes) -> list[str]:
    registry = registry_with_approved(tmp)
    registry.state_file.write_bytes(content)
    return ["models", "list", "--artifacts", str(tmp / "artifacts")]


def corrupt_report(tmp: Path) -> list[str]:
    registry = ModelRegistry(tmp / "artifacts")
    candidate = passed_candidate(registry)
    registry.paths.validation_file(candidate).write_bytes(b"{not json")
    # `models list` shows the audited verdicts, not the report file: promote is what reads (and checks) it
    return ["promote", candidate, "--artifacts", str(tmp / "artifacts"), "--confirm", "yes-promote"]


def deleted_model(tmp: Path) -> list[str]:
    registry = registry_with_approved(tmp)
    approved = registry.state()["approved"]["id"]
    (registry.paths.candidate_dir(approved) / "model.skops").unlink()
    session = write(tmp / "s.yaml", f"ml:\n  artifacts: {tmp / 'artifacts'}\n")
    return ["paper", "--config", str(session), "--model", "approved", "--api-url", "http://127.0.0.1:9"]


def bad_audit_line(tmp: Path) -> list[str]:
    registry = registry_with_approved(tmp)
    with open(registry.audit.path, "ab") as handle:
        handle.write(b'{"seq": 9, "\xff\xfe"}\n')
    return ["audit", "verify", "--artifacts", str(tmp / "artifacts")]


def busy_port(tmp: Path) -> list[str]:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    busy_port.holder = holder  # kept open while the command runs
    return ["emulator", "--port", str(holder.getsockname()[1]), "--credentials", str(tmp / "e.json")]


def unreachable(tmp: Path) -> list[str]:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = write(tmp / "s.yaml", f"live:\n  max_attempts: 1\n  timeout_ms: 500\n  logs: {tmp / 'logs'}\n"
                                    f"  record_candles: null\n  retrain: false\n")
    return ["paper", "--config", str(session), "--api-url", f"http://127.0.0.1:{port}", "--out", str(tmp / "out")]


CASES: dict[str, tuple[Callable[[Path], list[str]], int, str]] = {
    "config not UTF-8": (lambda t: config(t, b"run:\n  seed: 1\n\xff\xfe\n"), 2, "not UTF-8"),
    "deeply nested YAML": (lambda t: config(t, "a: " + "[" * 5000 + "]" * 5000), 2, "nested too deeply"),
    "cash 1e300": (lambda t: config(t, "broker:\n  cash: 1e300\n"), 2, "broker.cash"),
    "cash .inf": (lambda t: config(t, "broker:\n  cash: .inf\n"), 2, "broker.cash"),
    "duplicate keys": (lambda t: config(t, "run:\n  seed: 1\nrun:\n  seed: 2\n"), 2, "duplicate key 'run'"),
    "config over the size limit": (lambda t: config(t, "a:\n" + "- 1\n" * 300_000), 2, "bytes, over"),
    "config is a folder": (lambda t: ["backtest", "--config", str(t)], 2, "is a folder"),
    "period zero": (lambda t: params(t, "TrendFollower", "    atr_period: 0\n"), 2, "at least 1"),
    "period negative": (lambda t: params(t, "MeanReversion", "    period: -5\n"), 2, "at least 1"),
    "period fractional": (lambda t: params(t, "TrendFollower", "    atr_period: 2.5\n"), 2, "whole number"),
    "parameter not a number": (lambda t: params(t, "TrendFollower", "    stop_atr: abc\n"), 2, "must be a number"),
    "negative multiple": (lambda t: params(t, "TrendFollower", "    stop_atr: -1\n"), 2, "negative"),
    "fast equals slow": (lambda t: params(t, "baseline", "    fast: 10\n    slow: 10\n"), 2, "shorter than slow"),
    "fast above slow": (lambda t: params(t, "TrendFollower", "    fast: 2000\n"), 2, "shorter than slow"),
    "invest_fraction above 1": (lambda t: params(t, "Recovery", "    invest_fraction: 1.5\n"), 2, "between 0 and 1"),
    "data file not UTF-8": (lambda t: (t.joinpath("d").mkdir(), write(t / "d" / "XBTUSD_60.csv", b"\xff\xfe,1\n"),
                                       ["backtest", "--data-dir", str(t / "d"), "--no-progress"])[-1],
                            2, "not UTF-8"),
    "--out an existing file": (lambda t: ["backtest", "--config", str(QUICK), "--out", str(write(t / "f", "x"))],
                               2, "existing file"),
    "state.json not JSON": (lambda t: corrupt_state(t, b"{torn"), 1, "damaged"),
    "state.json wrong shape": (lambda t: corrupt_state(t, b"[1, 2]"), 1, "is not a registry state"),
    "gates report not JSON": (corrupt_report, 1, "gates report"),
    "approved model file deleted": (deleted_model, 2, "is missing"),
    "audit line not UTF-8": (bad_audit_line, 1, "not UTF-8"),
    "credentials with a numeric key": (lambda t: live_with_credentials(
        t, secret_file(t, {"key": 123, "secret": "c2VjcmV0"})), 2, "must be text"),
    "credentials a folder": (lambda t: live_with_credentials(t, t), 2, "is not a file"),
    "emulator credentials without secret": (lambda t: ["emulator", "--credentials", str(secret_file(
        t, {"key": "k"})), "--port", "0"], 2, '"secret"'),
    "emulator --speed nan": (lambda t: ["emulator", "--speed", "nan"], 2, "not a speed"),
    "emulator --port 70000": (lambda t: ["emulator", "--port", "70000"], 2, "not a port"),
    "emulator on a busy port": (busy_port, 2, "cannot listen on 127.0.0.1"),
    "exchange unreachable": (unreachable, 2, "cannot reach the exchange at http://127.0.0.1:"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input_ends_in_one_line_without_a_traceback(tmp_path, case):
    make, code, fragment = CASES[case]
    args = make(tmp_path)
    try:
        done = subprocess.run([sys.executable, "-m", "kraken_global.cli", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
    finally:
        holder = getattr(busy_port, "holder", None)
        if holder is not None:
            holder.close()
            busy_port.holder = None
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert done.returncode == code, done.stderr
    assert fragment in errors[0]


def test_a_closed_pipe_ends_quietly(tmp_path):
    registry = registry_with_approved(tmp_path)
    for seed in range(1, 4):
        passed_candidate(registry, seed)
    reader = subprocess.Popen([sys.executable, "-m", "kraken_global.cli", "models", "history", "--artifacts",
                               str(tmp_path / "artifacts")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader.stdout.close()  # like `| head -0`: the reader is gone before the command writes
    _, stderr = reader.communicate(timeout=60)
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr
