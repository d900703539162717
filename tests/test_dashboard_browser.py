"""The dashboard in a real headless browser (Debian's Chromium through Selenium) on a real paper session.

The session is a subprocess of the real CLI against the emulator (twenty market hours per wall second), with its
dashboard on a free port, controls on (the token in the environment), a capital ramp and an alert webhook. The
test sees the equity chart and a fill appear, pauses entries from the page and sees the bot stop opening positions
(its buys refused), flattens and stops the session from the page, and renders the finished session's report in
the same browser. Screenshots are kept in ``test-artifacts/`` (git-ignored).

Chromium and its driver come from apt (``apt-get install -y chromium chromium-driver``) when missing; Selenium
never downloads a browser (``SE_OFFLINE``, explicit binaries). Without apt the test is skipped, loudly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from kraken_global.sessions.audit_trail import verify_trail
from tests.alert_receiver import AlertReceiver
from tests.session_helpers import TRADING_START, emulator, write_config_file
from tests.test_operate import finish, status_of, wait_for

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
TOKEN = "browser-test-token-7Hq2Vn9RkLm4"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,2200")
WAIT = 60.0


def chromium_binaries() -> tuple[str, str]:
    """Debian's chromium and chromedriver, installed from apt when missing (skipped only without apt)."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    apt = shutil.which("apt-get")
    if apt is None:
        message = ("BROWSER TEST SKIPPED: chromium and chromium-driver are not installed and apt-get is not available "
                   "to install them; the dashboard was NOT tested in a browser")
        print(f"\n{message}", file=sys.stderr)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-qq", "chromium", "chromium-driver"]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:  # a stale package list: update it once and try again
        subprocess.run([apt, "update", "-qq"], env=env, capture_output=True, timeout=600)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if done.returncode != 0 or not (browser and driver):
        pytest.fail(f"apt-get could not install chromium and chromium-driver: {done.stderr[-2000:]}")
    return browser, driver


@pytest.fixture
def browser(tmp_path, monkeypatch):
    binary, driver_binary = chromium_binaries()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never fetch a browser or a driver
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_binary,
                                                               log_output=subprocess.DEVNULL))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()  # ends chromium and chromedriver


def until(driver, condition, what: str):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(lambda d: condition(d))
    except TimeoutException:
        keep_screenshot(driver, "failed")
        raise AssertionError(f"the page never showed {what} within {WAIT} s") from None


def keep_screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    driver.save_screenshot(str(path))
    return path


def confirm(driver, button: str) -> None:
    """Click a control and confirm it in the page's dialog."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, button).click()
    until(driver, lambda d: d.find_element(By.ID, "confirm").is_displayed(), "the confirmation dialog")
    driver.find_element(By.ID, "confirm-yes").click()


def log_after(log_file: Path, marker: str) -> list[str]:
    lines = log_file.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if marker in line), None)
    return [] if start is None else lines[start + 1:]


@pytest.mark.timeout(900)  # a first run in CI installs Chromium from apt; every wait in the test is bounded itself
def test_the_dashboard_in_a_browser_shows_a_paper_session_and_pauses_flattens_and_stops_it(tmp_path, browser):
    from selenium.webdriver.common.by import By

    with AlertReceiver() as receiver, emulator(start=TRADING_START) as server:
        config_file = write_config_file(server, tmp_path, bars=100_000)
        tree = yaml.safe_load(config_file.read_text())
        tree["live"]["capital"] = {"ramp": {"enabled": True, "shares": [0.5, 1.0], "step_days": 1,
                                            "state": str(tmp_path / "ramp.json")}}
        tree["alerts"] = {"webhooks": [{"url": receiver.url("/hook/Bx7Kq2Lm9Np4"), "format": "json",
                                        "events": ["session_start", "session_stop"]}]}
        config_file.write_text(yaml.safe_dump(tree))
        out = tmp_path / "session"
        process = subprocess.Popen(
            [sys.executable, "-m", "kraken_global.cli", "paper", "--config", str(config_file), "--out", str(out),
             "--dashboard", "0", "--quiet"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "KG_DASHBOARD_TOKEN": TOKEN})
        try:
            wait_for(process, "a paper fill", lambda: status_of(out).get("fills", 0) >= 1)
            url = status_of(out)["dashboard"]
            browser.get(url)
            until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#equity-chart path[data-series=value]"),
                  "the equity chart")
            until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#fills tbody tr"), "a fill")
            assert browser.find_element(By.ID, "ramp-section").is_displayed()
            keep_screenshot(browser, "running")

            # pause entries from the page: the bot's buys are refused from then on, its exits go on
            browser.find_element(By.ID, "token").send_keys(TOKEN)
            confirm(browser, "btn-pause")
            until(browser, lambda d: d.find_element(By.ID, "paused-badge").is_displayed(), "the paused badge")
            assert "new entries paused" in browser.find_element(By.ID, "control-result").text
            log_file = Path(status_of(out)["log"])
            wait_for(process, "a buy refused while paused", lambda: any(
                "entries paused by the operator" in line for line in log_after(log_file, "dashboard control: pause")))
            until(browser, lambda d: "entries paused" in d.find_element(By.ID, "log").text,
                  "the refusal in the page's log")
            keep_screenshot(browser, "paused")

            # flatten from the page: every position sold at the next bar
            confirm(browser, "btn-flatten")
            wait_for(process, "the positions sold", lambda: status_of(out).get("positions") == {}
                     and status_of(out).get("controls", {}).get("flattened") == 1)

            # stop from the page: the session ends cleanly, as after Ctrl-C
            confirm(browser, "btn-stop")
            code, stdout, stderr = finish(process)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=30)
        posts = receiver.wait_for(lambda p: len(p) >= 2, timeout=10)

    assert code == 0, stderr
    status = status_of(out)
    assert status["state"] == "stopped" and status["ended"] == "stop from the dashboard"
    after_pause = log_after(log_file, "dashboard control: pause")
    assert not [line for line in after_pause if " order paper-" in line and ": buy " in line], \
        "a buy was placed while entries were paused"
    assert "flatten (dashboard): cancelling the bot's open orders and selling its positions" in "\n".join(after_pause)
    trail = out / "audit.jsonl"
    actions = [json.loads(line)["action"] for line in trail.read_text().splitlines()]
    assert [a for a in actions if not a.startswith("ramp_")] == ["pause", "flatten", "stop"]
    assert verify_trail(trail) == []
    for text in (log_file.read_text(), trail.read_text(), (out / "status.json").read_text(), stdout, stderr,
                 json.dumps(posts)):
        assert TOKEN not in text, "the dashboard token leaked"
    assert [p["body"]["event"] for p in posts] == ["session_start", "session_stop"]
    assert posts[1]["body"]["fields"]["state"] == "stopped"

    # the finished session in the same page, from one self-contained file
    done = subprocess.run([sys.executable, "-m", "kraken_global.cli", "report", str(out)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    browser.get((out / "report.html").as_uri())
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#equity-chart path[data-series=value]"),
          "the report's equity chart")
    assert not browser.find_element(By.ID, "controls").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "#fills tbody tr") and \
        browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr")
    keep_screenshot(browser, "report")
