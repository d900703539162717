"""Alerts: ``kg_event`` log records reach a real local webhook and a real command, scrubbed, rate-limited, retried,
and a dead or hanging sink never slows the code that logs."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest

from kraken_global.alerts import event_extra
from kraken_global.alerts.dispatcher import AlertDispatcher
from kraken_global.alerts.scrub import Scrubber
from kraken_global.alerts.setup import install_alerts
from kraken_global.alerts.sinks import CommandSink, WebhookSink, payload
from kraken_global.config import BacktestConfig
from kraken_global.errors import ConfigError
from kraken_global.registry import ModelRegistry
from tests.alert_receiver import AlertReceiver
from tests.registry_helpers import passed_candidate

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC1zZWNyZXQ="  # base64, as a Kraken secret is
KEY = "Kq3vLmZ8xT2pW9rY5nB7cD4fH6jK1sA0"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
log = logging.getLogger("kraken_global.test_alerts")


def dispatch(routes, **kwargs) -> AlertDispatcher:
    dispatcher = AlertDispatcher(routes, **{"backoff": 0.01, **kwargs})
    logging.getLogger().addHandler(dispatcher)
    log.setLevel(logging.INFO)
    return dispatcher


def close(dispatcher: AlertDispatcher) -> None:
    logging.getLogger().removeHandler(dispatcher)
    dispatcher.close(10)


def test_an_event_record_is_posted_once_with_its_fields_and_no_secret_and_plain_records_are_not():
    with AlertReceiver() as receiver:
        hook = WebhookSink(receiver.url("/hook/T0ps3cr3tPathOfTheWebhook9"))
        dispatcher = dispatch([(hook, None)], scrubber=Scrubber([KEY, SECRET, hook.url]))
        try:
            log.info("a plain line: no alert")
            log.error("kill switch: equity 9400 (key %s, secret=%s, signed with %s)", KEY, SECRET, SECRET,
                      extra=event_extra("kill_switch", equity=9400.5, model_sha256=SHA, note=f"api_key={KEY}",
                                        url=hook.url))
            posts = receiver.wait_for(lambda p: len(p) >= 1)
        finally:
            close(dispatcher)
    assert len(posts) == 1 and dispatcher.sent == 1
    alert = posts[0]["body"]
    assert alert["event"] == "kill_switch" and alert["level"] == "ERROR" and alert["source"] == "kraken-global"
    assert alert["fields"]["equity"] == 9400.5 and alert["fields"]["model_sha256"] == SHA  # a digest is kept
    assert alert["message"].startswith("kill switch: equity 9400")
    for secret in (KEY, SECRET, "T0ps3cr3tPathOfTheWebhook9"):
        assert secret not in posts[0]["raw"]


def test_a_failing_webhook_is_retried_until_it_answers_and_a_refusing_one_is_not():
    with AlertReceiver(fail_first=2) as receiver:
        dispatcher = dispatch([(WebhookSink(receiver.url()), None)], retries=3)
        try:
            log.warning("order refused", extra=event_extra("order_refused", pair="BTC/USD"))
            posts = receiver.wait_for(lambda p: len(p) >= 1)
        finally:
            close(dispatcher)
    assert [p["body"]["event"] for p in posts] == ["order_refused"] and dispatcher.failed == 0

    with AlertReceiver(fail_first=10) as receiver:  # down for longer than the retries: given up, counted, logged
        dispatcher = dispatch([(WebhookSink(receiver.url()), None)], retries=2)
        try:
            log.warning("order refused", extra=event_extra("order_refused"))
        finally:
            close(dispatcher)
    assert dispatcher.failed == 1 and dispatcher.sent == 0 and receiver.failures_left == 7  # 1 + 2 retries


def test_a_flood_of_one_event_is_rate_limited_and_counted_into_the_next_alert():
    now = [1000.0]
    with AlertReceiver() as receiver:
        dispatcher = dispatch([(WebhookSink(receiver.url()), None)], min_interval=60, clock=lambda: now[0])
        try:
            for _ in range(50):
                log.warning("falling behind", extra=event_extra("falling_behind", late_seconds=900))
            log.info("a day", extra=event_extra("daily_summary"))  # another event has its own limit
            now[0] += 61
            log.warning("falling behind", extra=event_extra("falling_behind", late_seconds=1200))
            posts = receiver.wait_for(lambda p: len(p) >= 3)
        finally:
            close(dispatcher)
    assert [p["body"]["event"] for p in posts] == ["falling_behind", "daily_summary", "falling_behind"]
    assert posts[2]["body"]["suppressed"] == 49


def test_a_hanging_webhook_never_blocks_the_logging_thread_and_the_queue_stays_bounded():
    with AlertReceiver(hang=5.0) as receiver:
        dispatcher = dispatch([(WebhookSink(receiver.url(), timeout=0.5), None)], min_interval=0, queue_size=5,
                              retries=0)
        try:
            started = time.perf_counter()
            for number in range(200):
                log.error("kill switch %d", number, extra=event_extra("kill_switch"))
            elapsed = time.perf_counter() - started
        finally:
            logging.getLogger().removeHandler(dispatcher)
    assert elapsed < 1.0, f"logging 200 alerts took {elapsed:.2f} s while the webhook hung"
    assert dispatcher.dropped >= 190 and dispatcher.queue.qsize() <= 5


def test_a_command_gets_the_alert_as_json_on_stdin_and_in_its_environment(tmp_path):
    out = tmp_path / "alert.json"
    script = ("import json, os, sys; alert = json.load(sys.stdin); alert['env'] = os.environ['KG_EVENT']; "
              f"open({str(out)!r}, 'w').write(json.dumps(alert))")
    dispatcher = dispatch([(CommandSink((sys.executable, "-c", script)), frozenset({"ramp_step"}))])
    try:
        log.info("not routed to this command", extra=event_extra("daily_summary"))
        log.warning("capital ramp: step up", extra=event_extra("ramp_step", from_share=0.05, to_share=0.1))
    finally:
        close(dispatcher)
    alert = json.loads(out.read_text())
    assert alert["event"] == alert["env"] == "ramp_step" and alert["fields"] == {"from_share": 0.05, "to_share": 0.1}
    assert dispatcher.sent == 1


def test_slack_and_telegram_payloads_carry_the_message_as_text():
    alert = {"event": "kill_switch", "message": "kill switch: equity 9400", "fields": {"equity": 9400},
             "suppressed": 2, "session": "paper-20190601T000000Z"}
    slack = payload(alert, "slack")
    telegram = payload(alert, "telegram", chat_id="-100123")
    assert set(slack) == {"text"} and "kill_switch: kill switch: equity 9400" in slack["text"]
    assert "equity: 9400" in slack["text"] and "2 more kill_switch alerts" in slack["text"]
    assert telegram["chat_id"] == "-100123" and telegram["text"] == slack["text"]


def test_the_scrubber_masks_secrets_in_text_and_fields_but_keeps_digests_and_numbers():
    scrub = Scrubber([KEY])
    text = scrub.text(f"key {KEY} token: abc123def secret={SECRET} see https://hooks.example.com/services/T1/B2/x3 "
                      f"model {SHA}")
    assert KEY not in text and SECRET not in text and "abc123def" not in text and "/services/" not in text
    assert SHA in text and "https://hooks.example.com/***" in text
    fields = scrub.fields({"pair": "BTC/USD", "size": 0.5, "ok": True, "nested": {"secret": SECRET}, "n": None})
    assert fields == {"pair": "BTC/USD", "size": 0.5, "ok": True, "nested": {"secret": "***"}, "n": None}


def test_alerts_config_needs_one_url_per_webhook_and_an_unset_variable_is_one_clear_error(monkeypatch):
    with pytest.raises(ConfigError, match=r"exactly one of url or url_env"):
        BacktestConfig().with_overrides({"alerts.webhooks": [{"format": "slack"}]})
    with pytest.raises(ConfigError, match="chat_id"):
        BacktestConfig().with_overrides({"alerts.webhooks": [{"url": "https://x.example/hook", "format": "telegram"}]})
    with pytest.raises(ConfigError, match=r"unknown key|Input should be"):
        BacktestConfig().with_overrides({"alerts.webhooks": [{"url": "https://x.example", "events": ["lunch"]}]})
    config = BacktestConfig().with_overrides({"alerts.webhooks": [{"url_env": "KG_TEST_HOOK_URL"}]})
    monkeypatch.delenv("KG_TEST_HOOK_URL", raising=False)
    with pytest.raises(ConfigError, match=r"KG_TEST_HOOK_URL .* is not set"):
        install_alerts(config.alerts)
    assert install_alerts(BacktestConfig().alerts) is None  # no sink: no dispatcher, nothing attached


def test_promote_and_rollback_alert_through_the_config_of_the_cli(tmp_path, monkeypatch):
    registry = ModelRegistry(tmp_path / "artifacts")
    first, second = passed_candidate(registry, seed=1), passed_candidate(registry, seed=2)
    registry.promote(first, "yes-promote")
    with AlertReceiver() as receiver:
        monkeypatch.setenv("KG_TEST_HOOK_URL", receiver.url("/hook/Zr8PqL2mN5vX7wK3"))
        config = tmp_path / "alerts.yaml"
        config.write_text(f"ml: {{artifacts: {tmp_path / 'artifacts'}}}\n"
                          "alerts: {webhooks: [{url_env: KG_TEST_HOOK_URL, format: slack}]}\n")
        for args in (["promote", second, "--confirm", "yes-promote"], ["rollback", "--confirm", "yes-rollback"]):
            done = subprocess.run([sys.executable, "-m", "kraken_global.cli", *args, "--config", str(config)],
                                  capture_output=True, text=True, timeout=60, cwd=tmp_path)
            assert done.returncode == 0, done.stderr
        posts = receiver.wait_for(lambda p: len(p) >= 2, timeout=10)
    texts = [p["body"]["text"] for p in posts]
    assert texts[0].startswith(f"[kraken-global] model_approved: model {second} approved")
    assert texts[1].startswith(f"[kraken-global] model_rolled_back: model rolled back from {second} to {first}")
    assert all("Zr8PqL2mN5vX7wK3" not in p["raw"] for p in posts)
