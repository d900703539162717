"""The dashboard's server and the report page, tried by hand-made HTTP requests: what a page of another site, a
DNS-rebinding page, a client without the token, or a hostile value in the results can and cannot do.

The browser test (``test_dashboard_browser.py``) drives the real page in Chromium on a real session.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from kraken_global.errors import ConfigError
from kraken_global.paper_broker import Fill
from kraken_global.sessions.audit_trail import AuditTrail, verify_trail
from kraken_global.sessions.controls import SessionControls
from kraken_global.sessions.dashboard.live import LiveSource
from kraken_global.sessions.dashboard.page import report_html
from kraken_global.sessions.dashboard.server import check_token, serve_dashboard
from kraken_global.sessions.journal import SessionJournal
from kraken_global.sessions.status import StatusBoard
from kraken_global.sessions.stop import StopRequest

TOKEN = "Tk-9vQ2mX7pL4wR8nZ3yB6"
HOSTILE = "</script><script>document.title='owned'</script><!--"


def fill(when: datetime, side: str, symbol: str = "BTC/USD") -> Fill:
    return Fill(when, symbol, side, 0.01, 8000.0, 80.0, 0.2, 0.0026, "taker", 7996.0, 0.04, 1)


@pytest.fixture
def session(tmp_path):
    """A running session's published state, served with controls on."""
    log_file = tmp_path / "session.log"
    log_file.write_text("".join(f"line {n}\n" for n in range(500)))
    board = StatusBoard(tmp_path, mode="paper", exchange="http://127.0.0.1:1", model=None, log=str(log_file))
    board.update(feed="LIVE", link="ok", live_bars=3, last_bar="2019-06-01 03:00:00", value=10010.0, cash=9000.0,
                 positions={"BTC/USD": {"size": 0.125, "value": 1010.0, "price": 8080.0, "cost_price": 8000.0,
                                        "pnl": 10.0}}, open_orders=[], fills=1, rejections=0)
    journal = SessionJournal()
    for hour, value in enumerate((10000.0, 9990.0, 10010.0)):
        journal.add_bar(datetime(2019, 6, 1, hour + 1), value, 10000.0 + hour, "NEUTRAL")
    journal.add_fills([fill(datetime(2019, 6, 1, 1), "buy")])
    stop = StopRequest()
    controls = SessionControls(stop, AuditTrail(tmp_path))
    server = serve_dashboard(LiveSource(board, journal, tmp_path, controls), 0, token=TOKEN)
    try:
        yield server, controls, stop, tmp_path
    finally:
        server.shutdown()
        server.server_close()


def request(server, method: str, path: str, body: bytes | None = None, **headers) -> tuple[int, dict, bytes]:
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": f"127.0.0.1:{port}", **{k.replace("_", "-"): v for k, v in headers.items()}}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), data


def control(server, action: str, confirm: str | None = None, **headers) -> tuple[int, dict]:
    body = json.dumps({"confirm": confirm or action}).encode()
    status, _, data = request(server, "POST", f"/api/control/{action}", body,
                              **{"Content-Type": "application/json", "X-KG-Token": TOKEN, **headers})
    return status, json.loads(data)


def test_the_page_its_assets_and_its_document_are_served_with_a_strict_policy_and_nothing_else(session):
    server, *_ = session
    status, headers, page = request(server, "GET", "/")
    assert status == 200 and b'<script src="/static/dashboard.js">' in page
    assert "script-src 'self'" in headers["Content-Security-Policy"] and headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert request(server, "GET", "/static/dashboard.js")[0] == 200
    for path in ("/static/../../setup.cfg", "/static/%2e%2e/page.py", "/static/page.py", "/api/controls", "/x"):
        assert request(server, "GET", path)[0] == 404, path
    status, _, data = request(server, "GET", "/api/snapshot")
    document = json.loads(data)
    assert status == 200 and document["kind"] == "session" and document["live"] is True
    assert document["equity"]["value"] == [10000.0, 9990.0, 10010.0]
    assert [r["regime"] for r in document["regimes"]] == ["NEUTRAL"]
    assert document["positions"]["rows"][0][0] == "BTC/USD" and document["fills"]["rows"][0][2] == "buy"
    assert document["controls"] == {"enabled": True, "actions": ["pause", "resume", "stop", "flatten"],
                                    "paused": False, "stopping": False, "flattened": 0, "failed": None}
    assert document["log"][-1] == "line 499" and len(document["log"]) == 150
    assert TOKEN not in data.decode() and TOKEN.encode() not in page
    assert request(server, "PUT", "/api/snapshot")[0] == 405 and request(server, "OPTIONS", "/")[0] == 405


def test_a_control_needs_the_token_in_its_header_a_confirmation_and_this_server_as_host(session):
    server, controls, stop, folder = session
    port = server.server_address[1]
    refused = [
        control(server, "pause", X_KG_Token=""),  # no token
        control(server, "pause", X_KG_Token=TOKEN[:-1] + "x"),  # a wrong one
        control(server, "pause", X_KG_Token="", Cookie=f"token={TOKEN}"),  # a cookie is never a credential
        control(server, "pause", confirm="resume"),  # confirmed something else
        control(server, "pause", Content_Type="text/plain"),  # a form a page of another site could post
        control(server, "pause", Origin="http://evil.example"),  # a page of another site
        control(server, "pause", Host=f"evil.example:{port}"),  # a DNS-rebinding page
        control(server, "stop", X_KG_Token=TOKEN.lower()),
    ]
    assert [status for status, _ in refused] == [403, 403, 403, 400, 415, 403, 421, 403]
    assert not controls.paused and not stop.requested, "a refused request changed the session"
    assert not (folder / "audit.jsonl").exists()

    assert control(server, "pause")[0] == 200 and controls.paused
    assert control(server, "pause", Origin=f"http://127.0.0.1:{port}")[0] == 200  # the page itself sends its origin
    status, answer = control(server, "resume")
    assert status == 200 and answer["controls"]["paused"] is False and not controls.paused
    assert control(server, "flatten")[0] == 200 and controls.paused and controls.take_flatten()
    assert control(server, "stop")[0] == 200 and stop.requested and stop.reason == "stop from the dashboard"

    lines = (folder / "audit.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["action"] for e in entries] == ["pause", "pause", "resume", "flatten", "stop"]
    assert all(e["actor"] == "dashboard 127.0.0.1" for e in entries) and verify_trail(folder / "audit.jsonl") == []
    assert TOKEN not in "".join(lines)
    edited = lines[:]
    edited[2] = edited[2].replace('"resume"', '"pause"')
    (folder / "audit.jsonl").write_text("\n".join(edited) + "\n")
    assert verify_trail(folder / "audit.jsonl")[0].endswith(":3: the chain breaks here (edited, removed or reordered)")


def test_controls_are_off_without_a_token_and_the_page_says_so(tmp_path):
    board = StatusBoard(tmp_path, mode="paper")
    server = serve_dashboard(LiveSource(board, SessionJournal(), tmp_path), 0)
    try:
        status, answer = control(server, "stop")
        document = json.loads(request(server, "GET", "/api/snapshot")[2])
    finally:
        server.shutdown()
        server.server_close()
    assert status == 403 and "controls are off" in answer["error"]
    assert document["controls"]["enabled"] is False


def test_beyond_loopback_only_with_a_token_weak_tokens_and_privileged_ports_are_refused(tmp_path):
    board = StatusBoard(tmp_path, mode="paper")
    with pytest.raises(ConfigError, match=r"binds 0\.0\.0\.0 only with a control token"):
        serve_dashboard(LiveSource(board, SessionJournal(), tmp_path), 0, host="0.0.0.0")
    for weak in ("short", "sixteen chars ok", "x" * 15):
        with pytest.raises(ConfigError, match="at least 16 printable characters"):
            check_token(weak)
    assert check_token(TOKEN) == TOKEN and check_token(None) is None
    for args, message in ((["--dashboard", "80"], "port 80 is privileged"),
                          (["--dashboard", "0", "--dashboard-host", "0.0.0.0"], "only with a control token")):
        done = subprocess.run([sys.executable, "-m", "kraken_global.cli", "paper", "--api-url", "http://127.0.0.1:9",
                               *args], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_global.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def embedded(html: str) -> dict:
    match = re.search(r'<script id="kg-data" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def assert_self_contained(html: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "the report fetches from elsewhere"
    assert "<link" not in html and '<script src=' not in html and "/static/" not in html


@pytest.fixture(scope="module")
def backtest_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("backtest")
    done = cli("backtest", "--config", str(Path(__file__).parents[1] / "configs" / "quick.yaml"), "--out",
               str(folder / "quick"), "--no-plot", "--no-progress", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder / "quick"


def test_report_writes_one_self_contained_page_of_a_backtest(backtest_folder):
    done = cli("report", str(backtest_folder), cwd=backtest_folder)
    assert done.returncode == 0 and "backtest report written to" in done.stdout, done.stderr
    html = (backtest_folder / "report.html").read_text()
    assert_self_contained(html)
    document = embedded(html)
    assert document["kind"] == "backtest" and document["live"] is False
    equity = [line for line in (backtest_folder / "equity.csv").read_text().splitlines()[1:]]
    assert len(document["equity"]["t"]) == len(equity) and document["equity"]["benchmark_name"] == "BTC/USD"
    assert document["fills"]["title"].startswith("latest fills (")
    assert ["return", "1.37%"] in document["summary"]


def test_report_of_a_sweep_a_gates_report_and_refusals(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "sweep.csv").write_text("strategy.params.fast,total_return_pct,sharpe,max_drawdown_pct,turnover,trades\n"
                                     "40,1.5,0.3,12.0,0.1,10\n60,-2.0,-0.1,15.5,0.2,12\n")
    assert cli("report", str(sweep), "--out", str(tmp_path / "s.html"), cwd=tmp_path).returncode == 0
    document = embedded((tmp_path / "s.html").read_text())
    assert document["kind"] == "sweep" and document["table"]["rows"] == [[40, 1.5, 0.3, 12.0, 0.1, 10],
                                                                        [60, -2.0, -0.1, 15.5, 0.2, 12]]
    gates = tmp_path / "gates.json"
    gates.write_text(json.dumps({"candidate": "c1", "sha256": "ab" * 32, "policy_sha256": "cd" * 32, "passed": False,
                                 "gates": [{"name": "oos_sharpe", "value": 0.435, "threshold": 0.5, "passed": False,
                                            "line": "below the minimum 0.5 by 0.065"}],
                                 "systems": {"candidate": {"sharpe": 0.435, "windows": [1]}}}))
    assert cli("report", str(gates), cwd=tmp_path).returncode == 0
    document = embedded((tmp_path / "gates.html").read_text())
    assert document["title"] == "gates of c1: failed"
    assert document["gates"]["rows"] == [["oos_sharpe", 0.435, 0.5, False, "below the minimum 0.5 by 0.065"]]
    for target, message in ((tmp_path / "nothing", "does not exist"), (tmp_path, "holds no results"),
                            (sweep / "sweep.csv", "is not a gates report")):
        done = cli("report", str(target), cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_a_hostile_value_in_the_results_cannot_close_the_data_script():
    html = report_html({"kind": "session", "title": HOSTILE, "live": False, "generated": "now",
                        "fills": {"title": "fills", "columns": ["symbol"], "rows": [[HOSTILE]]}})
    assert HOSTILE not in html and html.count("</script>") == 2  # the data's and the page script's own
    assert embedded(html)["fills"]["rows"] == [[HOSTILE]]
