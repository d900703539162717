"""Hostile inputs through the real command line, part two (issue #21): files the project reads (configs, data,
credentials, status and session files), options, the emulator's control requests and the candle record.

Each input ends in one line naming the problem (exit 2) or in the correct behaviour, said: never a traceback, never
a hang (every command runs under a time limit), never a silently wrong result, and nothing stored is lost or changed.
The table of refusals runs in one subprocess (:mod:`tests.cli_batch`: ``main(argv)`` per command, as ``python -m
kraken_global.cli`` runs it); backtests, sessions, parity and the emulator run as ``python -m kraken_global.cli``
subprocesses, the cases that need a real session sharing two short ones.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from kraken_global.emulator import EmulatorServer
from kraken_global.feeds import bundled_data_dir
from tests.cli_batch import run_batch
from tests.session_helpers import SPEED
from tests.test_hostile_inputs import config, secret_file, write

QUICK = Path(__file__).parents[1] / "configs" / "quick.yaml"
TIMEOUT = 120  # seconds: a command still running after this is a hang


def cli(args: list[str], cwd: Path, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_global.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def one_error_line(stderr: str) -> str:
    """The single ``error:`` line of a refused command (and no traceback)."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


# -- crafted files ---------------------------------------------------------------------------------------------------

def kraken_rows(days: int = 60) -> list[str]:
    """Kraken's own hourly OHLCVT export of BTC/USD from 2019-01-01 (bundled), ``days`` of it."""
    with gzip.open(bundled_data_dir() / "XBTUSD_60.csv.gz", "rt") as handle:
        rows = [line.strip() for line in handle if line.startswith("15")]
    first = 1_546_300_800  # 2019-01-01 00:00 UTC
    return [r for r in rows if first <= int(r.split(",")[0]) < first + days * 86_400]


def data_dir(tmp: Path, rows: list[str], name: str = "XBTUSD_60.csv") -> Path:
    folder = tmp / "data"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("\n".join(rows) + "\n")
    return folder


def truncated_gzip(tmp: Path) -> list[str]:
    folder = tmp / "data"
    folder.mkdir()
    whole = (bundled_data_dir() / "XBTUSD_60.csv.gz").read_bytes()
    (folder / "XBTUSD_60.csv.gz").write_bytes(whole[: len(whole) // 2])  # a download cut in the middle
    return ["backtest", "--data-dir", str(folder), "--pairs", "BTC/USD", "--no-progress"]


def shifted(row: str, seconds: float) -> str:
    stamp, rest = row.split(",", 1)
    return f"{int(stamp) + seconds},{rest}"


def on_data(tmp: Path, rows: list[str]) -> list[str]:
    return ["backtest", "--data-dir", str(data_dir(tmp, rows)), "--pairs", "BTC/USD", "--timeframe", "1h",
            "--no-progress", "--no-plot", "--out", str(tmp / "out")]


def below_tick(rows: list[str]) -> list[str]:
    """BTC/USD's tick is 0.1: a file priced in cents of cents is another pair's (or a scaled export)."""
    return [",".join([r.split(",")[0], "0.05", "0.05", "0.05", "0.05", *r.split(",")[5:]]) for r in rows]


def fifo(tmp: Path, name: str) -> Path:
    path = tmp / name
    os.mkfifo(path)
    return path


def status_dir(tmp: Path, status: object) -> list[str]:
    folder = tmp / "session"
    folder.mkdir()
    write(folder / "status.json", json.dumps(status))
    return ["status", str(folder)]


def live_with_credentials(credentials: Path) -> list[str]:
    return ["live", "--credentials", str(credentials), "--api-url", "http://127.0.0.1:9"]


def cjk_key(tmp: Path) -> list[str]:
    return live_with_credentials(secret_file(tmp, {"key": "ab\u9375cd", "secret": "c2VjcmV0"}))


def emulator_with_secret(tmp: Path, secret: str) -> list[str]:
    return ["emulator", "--port", "0", "--credentials", str(secret_file(tmp, {"key": "k", "secret": secret}))]


CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    # tracebacks before
    "truncated .csv.gz": (truncated_gzip, "damaged or cut short"),
    "YAML complex key": (lambda t: config(t, "? [a, b]\n: 1\n"), "a key must be a name, not ['a', 'b']"),
    "data.start: 2019-13-45": (lambda t: config(t, "data:\n  start: 2019-13-45\n"),
                               "(line 2, column 10): '2019-13-45' is not a date"),
    "timeframe 100000d": (lambda t: ["backtest", "--timeframe", "100000d"], "longer than 15d"),
    "YAML integer of 5000 digits": (lambda t: config(t, "run:\n  seed: 1" + "0" * 5000 + "\n"), "cannot be read"),
    "ml.artifacts under a file": (lambda t: ["models", "list", "--config", str(write(
        t / "c.yaml", f"ml:\n  artifacts: {write(t / 'f', 'x')}/sub\n"))], "which is a file"),
    "--out under a file": (lambda t: ["backtest", "--config", str(QUICK), "--out", f"{write(t / 'f', 'x')}/sub"],
                           "which is a file"),
    "--out /proc/x": (lambda t: ["backtest", "--config", str(QUICK), "--out", "/proc/x"],
                      "no folder can be created in /proc"),
    "paper --out /proc/x": (lambda t: ["paper", "--out", "/proc/x/y"], "no folder can be created in /proc"),
    "a CJK character in the credentials key": (cjk_key, "a character Kraken keys never have"),
    "status.json positions a list": (lambda t: status_dir(t, {"state": "running", "positions": []}),
                                     "is not a session status file: positions is []"),
    "status.json size text": (lambda t: status_dir(t, {"state": "finished", "positions": {
        "BTC/USD": {"size": "x", "value": 1}}}), "the position of 'BTC/USD'"),
    "status.json a list": (lambda t: status_dir(t, [1, 2]), 'not a JSON object with a "state"'),
    "status.json a FIFO": (lambda t: (t.joinpath("s").mkdir(), fifo(t / "s", "status.json"),
                                      ["status", str(t / "s")])[-1], "is a FIFO"),
    "live --state a junk file": (lambda t: ["live", "--state", str(write(t / "state.sqlite", "junk " * 100))],
                                 "is not a SQLite file"),
    "live --state a folder": (lambda t: ["live", "--state", str(t)], "is a folder"),
    "live --state under a file": (lambda t: ["live", "--state", f"{write(t / 'f', 'x')}/s.sqlite"],
                                  "which is a file"),
    # hangs before
    "--config /dev/zero": (lambda t: ["backtest", "--config", "/dev/zero"], "/dev/zero is a device"),
    "--config /dev/urandom": (lambda t: ["models", "list", "--config", "/dev/urandom"], "/dev/urandom is a device"),
    "--config a FIFO": (lambda t: ["backtest", "--config", str(fifo(t, "c.yaml"))], "is a FIFO (named pipe)"),
    "credentials a FIFO": (lambda t: live_with_credentials((fifo(t, "k.json"), os.chmod(t / "k.json", 0o600),
                                                            t / "k.json")[-1]), "is not a file"),
    "data import of a FIFO": (lambda t: ["data", "import", str(fifo(t, "XBTUSD_60.csv")), "--data-dir",
                                         str(t / "d")], "is a FIFO"),
    "emulator --asset-pairs /dev/zero": (lambda t: ["emulator", "--port", "0", "--asset-pairs", "/dev/zero",
                                                    "--credentials", str(t / "e.json")], "is a device"),
    # silently wrong before
    "float timestamps": (lambda t: on_data(t, [shifted(r, 0.5) for r in kraken_rows()]),
                         "is not on the 1h grid of this file"),
    "timestamps off the hour": (lambda t: on_data(t, [shifted(r, 1800) for r in kraken_rows()]),
                                "is not on the 1h grid of this file"),
    "prices below the tick": (lambda t: on_data(t, below_tick(kraken_rows())), "below BTC/USD's tick 0.1"),
    "cash: true": (lambda t: config(t, "broker:\n  cash: true\n"), "broker.cash: must be a number, not true"),
    "seed: 2.0": (lambda t: config(t, "run:\n  seed: 2.0\n"), "run.seed: must be a whole number, not 2.0"),
    "plot: 1": (lambda t: config(t, "run:\n  plot: 1\n"), "run.plot: must be true or false, not 1"),
    "seed beyond numpy's": (lambda t: config(t, "run:\n  seed: 10000000000000\n"), "run.seed"),
    "unknown benchmark pair": (lambda t: ["backtest", "--config", str(QUICK), "--benchmark", "BTX/USD"],
                               "universe.benchmark: unknown pair 'BTX/USD'"),
    "gates.min_sharpe: .nan": (lambda t: config(t, "gates:\n  min_sharpe: .nan\n"),
                               "gates.min_sharpe: must be a finite number, not nan"),
    "regime weight .inf": (lambda t: config(t, "regimes:\n  selection:\n    PANIC: {DefensiveHedge: .inf}\n"),
                           "must be a finite number"),
    "non-base64 emulator secret": (lambda t: emulator_with_secret(t, "not base64!"), "not valid base64"),
    "--status-port 80": (lambda t: ["paper", "--status-port", "80"], "port 80 is privileged"),
    "live.status_port: 443": (lambda t: ["paper", "--config", str(write(t / "c.yaml", "live:\n  status_port: 443\n"))],
                              "live.status_port: port 443 is privileged"),
    "emulator --port 80": (lambda t: ["emulator", "--port", "80"], "port 80 is privileged"),
    "unknown reference pair": (lambda t: ["backtest", "--config", str(QUICK), "--reference", "BTX/USD"],
                               "regimes: reference: unknown pair 'BTX/USD'"),
    "run.out empty": (lambda t: config(t, "run:\n  out: ''\n"), "run.out: must name a file or folder"),
    "a NUL in a path": (lambda t: config(t, 'live:\n  state: "a\\0b"\n'), "live.state: holds a NUL character"),
    "parity --size-tolerance inf": (lambda t: ["parity", str(t), "--size-tolerance", "inf"],
                                    "--size-tolerance must be a relative difference"),
    "data download --timeframe 16d": (lambda t: ["data", "download", "--pairs", "BTC/USD", "--timeframe", "16d",
                                                 "--api-url", "http://127.0.0.1:9", "--data-dir", str(t)],
                                      "longer than 15d"),
}


@pytest.fixture(scope="module")
def refusals(tmp_path_factory) -> dict[str, dict]:
    """Every case of :data:`CASES` run once, in one batch."""
    folders = {case: tmp_path_factory.mktemp("case") for case in CASES}
    results = run_batch([(CASES[case][0](folder), folder) for case, folder in folders.items()])
    return dict(zip(folders, results, strict=True))


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input_is_one_line_and_exit_2(refusals, case):
    done = refusals[case]
    assert not done["hang"], f"{case}: still running after its time limit"
    assert done["code"] == 2, done["stderr"]
    assert CASES[case][1] in one_error_line(done["stderr"])


def test_a_junk_state_file_is_left_exactly_as_it_was(tmp_path):
    junk = write(tmp_path / "state.sqlite", b"not a database\n" * 50)
    before = junk.read_bytes()
    for state in (junk, tmp_path):
        assert cli(["live", "--state", str(state)], tmp_path).returncode == 2
    assert junk.read_bytes() == before


def test_data_that_ends_early_or_is_priced_off_the_tick_runs_and_says_so(tmp_path):
    """Both are real data (Kraken's ticks were finer in past years; a file can end before the period asked for):
    the run goes on, and the summary and metrics.json say what the run does not cover."""
    rows = [",".join([*r.split(",")[:4], f"{float(r.split(',')[4]) + 0.0125}", *r.split(",")[5:]])
            if i % 2 else r for i, r in enumerate(kraken_rows(45))]  # every other close 1/8 of a tick off
    rows = [_within_range(r) for r in rows]
    out = tmp_path / "out"
    baseline = write(tmp_path / "c.yaml", "strategy:\n  name: baseline\n  params: {fast: 10, slow: 30}\n")
    done = cli(["backtest", "--data-dir", str(data_dir(tmp_path, rows)), "--pairs", "BTC/USD", "--timeframe", "1h",
                "--config", str(baseline), "--to", "2019-12-31", "--no-progress", "--no-plot", "--out", str(out)],
               tmp_path)
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stdout.split())
    assert "the data ends at 2019-02-15 00:00:00 (the close of the last candle), before the end asked for " \
           "(2019-12-31, inclusive)" in said
    assert "BTC/USD: 540 bars are priced finer than its tick 0.1" in said
    run = json.loads((out / "metrics.json").read_text())["run"]
    assert run["off_tick_bars"] == {"BTC/USD": 540} and len(run["notices"]) == 2


def _within_range(row: str) -> str:
    stamp, o, h, low, c, *rest = row.split(",")
    high, lowest = max(float(h), float(c), float(o)), min(float(low), float(c), float(o))
    return ",".join([stamp, o, repr(high), repr(lowest), c, *rest])


# -- the emulator's control requests ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def emulator_process(tmp_path_factory):
    """``kraken-global emulator --port 0`` as a user starts it; its first line gives the URL."""
    folder = tmp_path_factory.mktemp("emulator")
    process = subprocess.Popen([sys.executable, "-m", "kraken_global.cli", "emulator", "--port", "0",
                                "--credentials", str(folder / "e.json")], cwd=folder, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()  # printed once it listens
        assert first.startswith("Kraken emulator on http://127.0.0.1:"), first + process.stderr.read()
        yield first.split()[3]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
        assert "Traceback" not in stderr, stderr


HUGE = "9" * 400
CONTROL_REQUESTS = [
    ("clock", f'{{"advance_seconds": {HUGE}}}', "advance_seconds must be finite"),
    ("clock", "1" + "0" * 5000, "the body must be a JSON object"),  # Python refuses ints of 4300+ digits
    ("clock", "[" * 100_000 + "]" * 100_000, "the body must be a JSON object"),
    ("clock", '{"advance_seconds": "60"}', "advance_seconds must be a number"),
    ("clock", '{"advance_seconds": 300000000}', "the replayed candles end at"),
    ("faults", f'{{"endpoint": "AddOrder", "kind": "accepted_late", "seconds": {HUGE}}}', "seconds must be finite"),
    ("faults", "[" * 100_000 + "]" * 100_000, "the body must be a JSON object"),
    ("faults", '{"endpoint": "AddOrder", "kind": ["timeout"]}', "unknown fault kind"),
]


@pytest.mark.parametrize("control,body,fragment", CONTROL_REQUESTS, ids=[f"{c}-{i}" for i, (c, _, _) in
                                                                         enumerate(CONTROL_REQUESTS)])
def test_emulator_controls_refuse_nonsense_with_400_never_500(emulator_process, control, body, fragment):
    request = urllib.request.Request(f"{emulator_process}/_emulator/{control}", data=body.encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    (message,) = json.loads(refused.value.read())["error"]
    assert fragment in message


# -- sessions, their candle record and parity -------------------------------------------------------------------

def run_session(root: Path, name: str, start: datetime) -> subprocess.CompletedProcess:
    """A short paper session through the CLI against an emulator replaying from ``start`` (bounded in bars and
    seconds); every session records into the same ``root/candles``."""
    with EmulatorServer(speed=SPEED, start=start) as server:
        settings = {"universe": {"pairs": ["BTC/USD"]},
                    "strategy": {"name": "baseline", "params": {"fast": 10, "slow": 30}},
                    "live": {"api_url": server.base_url, "poll_seconds": 0.05, "sync_seconds": 0.05,
                             "retrain": False, "rate_limit": False, "timeout_ms": 5000, "max_bars": 5,
                             "max_idle_seconds": 20, "logs": str(root / f"{name}-logs"),
                             "results": str(root / "results"), "record_candles": str(root / "candles"),
                             "key_lock_dir": str(root / "keys")},
                    "run": {"plot": False}, "ml": {"artifacts": str(root / "artifacts")}}
        path = write(root / f"{name}.yaml", yaml.safe_dump(settings))
        return cli(["paper", "--config", str(path), "--out", str(root / name), "--quiet"], root)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """A session replaying June 2019, then one replaying March 2019 into the same candle record: the record
    already holds later candles than the second session receives (the auditor's data-loss case)."""
    root = tmp_path_factory.mktemp("sessions")
    june = run_session(root, "june", datetime(2019, 6, 1))
    assert june.returncode == 0, june.stderr
    record = {p.name: p.read_bytes() for p in (root / "candles").iterdir()}
    march = run_session(root, "march", datetime(2019, 3, 1))
    assert march.returncode == 0, march.stderr
    return root, record, march


def without_a_live_candle(root: Path, folder: Path) -> Path:
    """A copy of the June session whose candle record lost its first live candle."""
    session, record = folder / "june", folder / "candles"
    shutil.copytree(root / "june", session)
    shutil.copytree(root / "candles", record)
    meta = json.loads((session / "session.json").read_text())
    first_live = int(pd.Timestamp(meta["replay"]["feeds"]["BTC/USD"]["replayed"]["last"]).timestamp()) + 3600
    lines = (record / "XBTUSD_60.csv").read_text().splitlines()
    kept = [line for line in lines if not line.startswith(f"{first_live},")]
    assert len(kept) == len(lines) - 1
    (record / "XBTUSD_60.csv").write_text("\n".join(kept) + "\n")
    meta["replay"]["record_candles"] = str(record)
    (session / "session.json").write_text(json.dumps(meta))
    return session


JUNK_SESSION_FILES = {
    "plan.csv junk": ("plan.csv", "this,is\nnot,a plan\n", "is not the file a session writes: no column datetime"),
    "fills.csv garbage header": ("fills.csv", "a,b,c\n1,2,3\n", "is not the file a session writes: no column dt"),
    "orders.csv size text": ("orders.csv", "bar,symbol,side,size,strategy,order_id,status\n"
                                           "2019-06-02 18:00:00,BTC/USD,buy,lots,SmaTrendBaseline,1,Completed\n",
                             "row 2: size 'lots' is not a number"),
    "session.json replay damaged": ("session.json", json.dumps({"replay": {"feeds": {"BTC/USD": {"replayed": 3}},
                                                                           "record_candles": "x"}}),
                                    "the replay block is damaged"),
    "session.json a FIFO": ("session.json", None, "is a FIFO"),
}


def with_junk(root: Path, folder: Path, name: str, content: str | None) -> Path:
    """A copy of the June session with ``name`` replaced by ``content`` (None: a FIFO)."""
    session = folder / "june"
    shutil.copytree(root / "june", session)
    (session / name).unlink()
    if content is None:
        os.mkfifo(session / name)
    else:
        (session / name).write_text(content)
    return session


@pytest.fixture(scope="module")
def parity_refusals(sessions, tmp_path_factory) -> dict[str, dict]:
    """``parity`` on the March session, on a June session missing a live candle, and on June sessions with a junk
    file: all refusals, run in one batch."""
    root, _, _ = sessions
    folders = {"march": root / "march",
               "missing live candle": without_a_live_candle(root, tmp_path_factory.mktemp("missing"))}
    for case, (name, content, _) in JUNK_SESSION_FILES.items():
        folders[case] = with_junk(root, tmp_path_factory.mktemp("junk"), name, content)
    results = run_batch([(["parity", str(folder)], folder.parent) for folder in folders.values()])
    return dict(zip(folders, results, strict=True))


def refused(done: dict) -> str:
    assert not done["hang"] and done["code"] == 2, done
    return one_error_line(done["stderr"])


def test_candles_the_record_cannot_take_are_said_the_record_is_kept_and_parity_cannot_rebuild_them(
        sessions, parity_refusals):
    root, record_before, march = sessions
    assert {p.name: p.read_bytes() for p in (root / "candles").iterdir()} == record_before  # nothing lost
    log = "".join(p.read_text() for p in (root / "march-logs").iterdir())
    assert "BTC/USD: candles NOT recorded" in log and "later than this session's" in log
    assert "candles NOT recorded" in " ".join(march.stderr.split()) + " ".join(march.stdout.split())
    assert "cannot be rebuilt" in refused(parity_refusals["march"])


def test_a_live_candle_missing_from_the_record_makes_parity_refuse_not_differ(parity_refusals):
    assert "holds 4 of the 5 candles the session received" in refused(parity_refusals["missing live candle"])


@pytest.mark.parametrize("case", list(JUNK_SESSION_FILES))
def test_parity_refuses_a_session_file_it_cannot_compare(parity_refusals, case):
    assert JUNK_SESSION_FILES[case][2] in refused(parity_refusals[case])
