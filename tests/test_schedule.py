"""The downtime window: states by time of day, wrap-around, UTC whatever the machine's zone, and timers."""

from __future__ import annotations

import os
import time as systime
from datetime import datetime, time, timedelta, timezone

import pandas as pd
import pytest

from kraken_global.schedule import DowntimeSchedule, TradingState
from kraken_global.strategies.base import KrakenStrategy
from tests.conftest import candles, run

T, X, D = TradingState.TRADING, TradingState.TRANSITION, TradingState.DOWNTIME


@pytest.mark.parametrize(("clock", "state"), [
    ("02:29:59", T), ("02:30", X), ("02:59:59", X), ("03:00", D), ("04:59:59", D), ("05:00", T), ("12:00", T),
])
def test_default_window(clock, state):
    moment = datetime.fromisoformat(f"2024-03-01T{clock}")
    assert DowntimeSchedule().state_at(moment) is state


@pytest.mark.parametrize(("clock", "state"), [
    ("22:00", T), ("22:30", X), ("23:00", D), ("00:30", D), ("00:59", D), ("01:00", T),
])
def test_window_that_wraps_midnight(clock, state):
    schedule = DowntimeSchedule(start=time(23, 0), end=time(1, 0), transition_minutes=30)
    assert schedule.state_at(datetime.fromisoformat(f"2024-03-01T{clock}")) is state


def test_transition_that_wraps_midnight():
    schedule = DowntimeSchedule(start=time(0, 15), end=time(2, 0), transition_minutes=30)
    assert schedule.state_at(datetime(2024, 3, 1, 23, 50)) is X
    assert schedule.state_at(datetime(2024, 3, 2, 0, 10)) is X


def test_aware_times_are_converted_to_utc_and_the_machine_zone_does_not_matter():
    tokyo = timezone(timedelta(hours=9))
    assert DowntimeSchedule().state_at(datetime(2024, 3, 1, 12, 0, tzinfo=tokyo)) is D  # 03:00 UTC
    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    systime.tzset()
    try:
        assert DowntimeSchedule().state_at(datetime(2024, 3, 1, 3, 30)) is D
    finally:
        if old is None:
            os.environ.pop("TZ")
        else:
            os.environ["TZ"] = old
        systime.tzset()


def test_disabled_schedule_always_trades_and_bad_windows_are_refused():
    assert DowntimeSchedule(enabled=False).state_at(datetime(2024, 1, 1, 3, 30)) is T
    with pytest.raises(ValueError, match="must differ"):
        DowntimeSchedule(start=time(3), end=time(3))
    with pytest.raises(ValueError, match="24 hours"):
        DowntimeSchedule(start=time(3), end=time(2), transition_minutes=120)


class Recorder(KrakenStrategy):
    def __init__(self):
        super().__init__()
        self.seen: list = []

    def on_schedule(self, state, when):
        self.seen.append((when, state))

    def next(self):
        pass


def test_backtrader_timers_fire_at_each_boundary_on_data_time():
    frame = candles([100.0] * 48, start="2024-01-01 06:00")  # bars close 01 07:00 .. 03 06:00
    schedule = DowntimeSchedule(transition_minutes=60)
    strategy, _ = run({"ETH/USD": frame}, strategy=Recorder, broker_kwargs={"schedule": schedule})
    fired = [(when.strftime("%d %H:%M"), state) for when, state in strategy.schedule_events]
    # the first bar (07:00) is past day 1's boundaries: only the state in force (trading) is reported
    assert fired == [("01 05:00", T), ("02 02:00", X), ("02 03:00", D), ("02 05:00", T),
                     ("03 02:00", X), ("03 03:00", D), ("03 05:00", T)]
    assert all(schedule.state_at(when) is state for when, state in strategy.seen)


def test_after_an_outage_only_the_current_state_is_reported():
    # candles start 01:00, then 03:00.. (02:00 missing): bars close 02:00, then 04:00, 05:00, ...
    frame = candles([100.0] * 6, start="2024-01-01 01:00", freq="1h").drop(pd.Timestamp("2024-01-01 02:00"))
    strategy, _ = run({"ETH/USD": frame}, strategy=Recorder, broker_kwargs={"schedule": DowntimeSchedule()})
    states = [state for _, state in strategy.schedule_events]
    assert states == [D, T]
