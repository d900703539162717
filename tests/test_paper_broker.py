"""Each Kraken paper broker rule on crafted candles, with expected amounts computed by hand."""

from __future__ import annotations

import backtrader as bt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_global.fees import KRAKEN_LEGACY, FeeSchedule
from kraken_global.schedule import DowntimeSchedule
from tests.conftest import candles, run


def completed(strategy):
    return [e for e in strategy.events if e["status"] == "Completed"]


def test_market_buy_pays_taker_fee_at_next_open():
    frame = candles([100.0, 101.0, 102.0, 103.0], start="2024-01-01")
    strategy, broker = run({"ETH/USD": frame}, script={1: [("buy", "ETH/USD", 2.0, {})]})
    fill = broker.fills[0]
    assert fill.price == 101.0 and fill.size == 2.0 and fill.liquidity == "taker"
    assert fill.fee == pytest.approx(2.0 * 101.0 * 0.0026)
    assert completed(strategy)[0]["comm"] == pytest.approx(0.5252)
    assert broker.getcash() == pytest.approx(100_000 - 202.0 - 0.5252)


def test_resting_limit_pays_maker_fee_at_its_limit_price():
    # bar 2 opens at 101 > limit 99.5 (no cross on arrival); bar 3 trades down to 99 and reaches the limit
    frame = candles([100.0, 101.0, 100.5, 100.0], lows=[100, 100.5, 99.0, 100], closes=[100, 101, 100, 100])
    _strategy, broker = run({"ETH/USD": frame},
                           script={1: [("buy", "ETH/USD", 1.0, {"exectype": bt.Order.Limit, "price": 99.5})]})
    fill = broker.fills[0]
    assert (fill.price, fill.liquidity) == (99.5, "maker")
    assert fill.fee == pytest.approx(99.5 * 0.0016)
    assert fill.dt == frame.index[2] + frame.index.freq


def test_limit_that_crosses_on_arrival_is_taker_at_the_open():
    frame = candles([100.0, 98.0, 98.0, 98.0])
    _, broker = run({"ETH/USD": frame},
                    script={1: [("buy", "ETH/USD", 1.0, {"exectype": bt.Order.Limit, "price": 99.5})]})
    fill = broker.fills[0]
    assert (fill.price, fill.liquidity) == (98.0, "taker")
    assert fill.fee == pytest.approx(98.0 * 0.0026)


def test_slippage_goes_against_the_trader_and_is_rounded_to_the_tick():
    # BTC tick 0.1: 50_000 * 1.0005 = 50_025.0 exactly; 50_003 * 0.9995 = 49_977.9985 -> down to 49_977.9
    frame = candles([50_000.0, 50_000.0, 50_003.0, 50_003.0])
    _, broker = run({"BTC/USD": frame}, broker_kwargs={"slippage_bps": 5.0},
                    script={1: [("buy", "BTC/USD", 0.1, {})], 2: [("sell", "BTC/USD", 0.1, {})]})
    buy, sell = broker.fills
    assert buy.price == 50_025.0 and buy.reference_price == 50_000.0
    assert sell.price == 49_977.9 and sell.reference_price == 50_003.0
    assert buy.slippage_cost == pytest.approx(0.1 * 25.0)
    assert sell.slippage_cost == pytest.approx(0.1 * 25.1)
    assert broker.slippage_paid == pytest.approx(2.5 + 2.51)


def test_limit_orders_are_not_slipped():
    frame = candles([100.0, 98.0, 98.0])
    _, broker = run({"ETH/USD": frame}, broker_kwargs={"slippage_bps": 50.0},
                    script={1: [("buy", "ETH/USD", 1.0, {"exectype": bt.Order.Limit, "price": 99.5})]})
    assert broker.fills[0].price == 98.0 and broker.fills[0].slippage_cost == 0


def test_sizes_truncate_to_lot_decimals_and_limit_prices_round_in_the_traders_favour():
    frame = candles([3000.0] * 4)
    strategy, broker = run({"ETH/USD": frame}, script={1: [
        ("buy", "ETH/USD", 0.123456789123, {"exectype": bt.Order.Limit, "price": 3000.129}),
    ]})
    order = strategy.orders[0]
    assert order.created.size == pytest.approx(0.12345678)
    assert order.created.price == 3000.12  # ETH tick 0.01, a buy limit rounds down
    assert broker.fills[0].size == pytest.approx(0.12345678)


def test_order_under_ordermin_is_rejected_with_the_reason():
    frame = candles([50_000.0] * 3)
    strategy, broker = run({"BTC/USD": frame}, script={1: [("buy", "BTC/USD", 0.00004, {})]})
    event = strategy.events[-1]
    assert event["status"] == "Rejected"
    assert event["reason"].startswith("ordermin: 4e-05 BTC")
    assert broker.rejections[0].reason == event["reason"]
    assert broker.fills == []


def test_order_under_costmin_is_rejected():
    frame = candles([0.01] * 3)  # DOGE at 1 cent: 50 DOGE meets ordermin but costs 0.50 -> exactly costmin
    strategy, _ = run({"DOGE/USD": frame}, script={1: [("buy", "DOGE/USD", 50.0, {}), ("buy", "DOGE/USD", 49.0, {})]})
    statuses = [(e["status"], e["reason"]) for e in strategy.events]
    assert ("Rejected", None) not in statuses
    assert any(s == "Rejected" and r.startswith("ordermin") for s, r in statuses)


def test_buy_beyond_cash_and_sell_beyond_holdings_are_rejected():
    frame = candles([50_000.0] * 4)
    strategy, broker = run({"BTC/USD": frame}, broker_kwargs={"cash": 1_000.0}, script={
        1: [("buy", "BTC/USD", 0.05, {}), ("sell", "BTC/USD", 0.01, {})],
    })
    reasons = [e["reason"] for e in strategy.events if e["status"] == "Rejected"]
    assert reasons[0].startswith("insufficient funds: needs 2506.50 USD")
    assert reasons[1].startswith("insufficient holdings") and "no shorting" in reasons[1]
    assert broker.getposition(strategy.datas[0]).size == 0


def test_open_buy_orders_reserve_cash():
    frame = candles([100.0] * 4)
    strategy, _ = run({"ETH/USD": frame}, broker_kwargs={"cash": 1_000.0}, script={1: [
        ("buy", "ETH/USD", 6.0, {"exectype": bt.Order.Limit, "price": 90.0}),
        ("buy", "ETH/USD", 6.0, {"exectype": bt.Order.Limit, "price": 90.0}),
    ]})
    rejected = [e for e in strategy.events if e["status"] == "Rejected"]
    assert len(rejected) == 1 and rejected[0]["reason"].startswith("insufficient funds")


def test_fills_are_capped_by_bar_volume_and_the_rest_stays_open():
    frame = candles([100.0] * 6, volume=20.0)  # 10% of 20 = 2 ETH per bar
    strategy, broker = run({"ETH/USD": frame}, broker_kwargs={"volume_share": 0.1},
                           script={1: [("buy", "ETH/USD", 5.0, {})]})
    assert [f.size for f in broker.fills] == [2.0, 2.0, 1.0]
    statuses = [e["status"] for e in strategy.events]
    assert statuses == ["Accepted", "Partial", "Partial", "Completed"]
    assert broker.getposition(strategy.datas[0]).size == pytest.approx(5.0)


def test_fractional_volume_cap_is_float_safe():
    frame = candles([50_000.0] * 4, volume=0.37)
    _, broker = run({"BTC/USD": frame}, broker_kwargs={"volume_share": 0.1},
                    script={1: [("buy", "BTC/USD", 0.05, {})]})
    assert [f.size for f in broker.fills] == [pytest.approx(0.037)] * 1 + [pytest.approx(0.013)]


def test_zero_volume_bar_fills_nothing_and_the_order_waits():
    frame = candles([100.0] * 4, volume=[10.0, 0.0, 10.0, 10.0])
    _, broker = run({"ETH/USD": frame}, broker_kwargs={"volume_share": 0.5},
                    script={1: [("buy", "ETH/USD", 1.0, {})]})
    assert len(broker.fills) == 1 and broker.fills[0].dt == frame.index[3]  # bar 3 closes at index[3]


def test_downtime_rejects_new_orders_and_transition_only_allows_reducing():
    # hourly bars stamped at their close: bar 2 closes 02:00 (transition), bar 3 closes 03:00 (downtime)
    frame = candles([100.0] * 8, start="2024-01-01 00:00")
    schedule = DowntimeSchedule(transition_minutes=60)
    strategy, broker = run({"ETH/USD": frame}, broker_kwargs={"schedule": schedule}, script={
        1: [("buy", "ETH/USD", 2.0, {})],
        2: [("buy", "ETH/USD", 1.0, {}), ("sell", "ETH/USD", 1.0, {})],
        3: [("sell", "ETH/USD", 1.0, {})],
        5: [("buy", "ETH/USD", 1.0, {})],
    })
    rejected = [(r.dt.hour, r.reason) for r in broker.rejections]
    assert [e["reason"] for e in strategy.events if e["status"] == "Rejected"] == [r for _, r in rejected]
    assert rejected[0] == (2, "transition: only orders that reduce exposure are accepted before downtime")
    assert rejected[1] == (3, "downtime")
    assert [f.side for f in broker.fills] == ["buy", "sell", "buy"]
    assert broker.fills[-1].dt.hour == 6  # placed at 05:00 (trading again), filled at the next bar


def test_seeded_random_slippage_is_reproducible():
    frame = candles([100.0] * 12)
    script = {i: [("buy", "ETH/USD", 1.0, {})] for i in range(1, 10)}

    def prices(seed):
        _, broker = run({"ETH/USD": frame}, broker_kwargs={"random_slippage_bps": 20.0, "seed": seed},
                        script=script)
        return [f.price for f in broker.fills]

    assert prices(7) == prices(7)
    assert prices(7) != prices(8)
    assert all(100.0 <= p <= 100.2 for p in prices(7))


def test_fee_tier_drops_after_30_day_volume_passes_the_threshold():
    frame = candles([50_000.0] * 6)
    _, broker = run({"BTC/USD": frame}, broker_kwargs={"fees": KRAKEN_LEGACY, "cash": 1_000_000.0}, script={
        1: [("buy", "BTC/USD", 1.0, {})], 3: [("buy", "BTC/USD", 0.1, {})],
    })
    first, second = broker.fills
    assert first.fee_rate == 0.0026  # 0 USD traded before: first tier
    assert second.fee_rate == 0.0024  # 50_000 USD traded: second tier


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 300)), min_size=1, max_size=12))
def test_value_is_conserved_minus_fees_on_a_flat_market(orders):
    frame = candles([100.0] * (len(orders) + 3))
    script = {i + 1: [(side, "ETH/USD", amount / 100, {})] for i, (side, amount) in enumerate(orders)}
    strategy, broker = run({"ETH/USD": frame}, broker_kwargs={"cash": 1_000.0}, script=script)
    assert broker.getvalue() == pytest.approx(1_000.0 - broker.fees_paid, abs=1e-9)
    assert broker.getposition(strategy.datas[0]).size >= 0
    assert broker.getcash() >= 0


def test_flat_fee_schedule_rejects_bad_tiers():
    with pytest.raises(ValueError, match="first tier"):
        FeeSchedule("x", ())


def test_partial_fills_never_leave_an_order_open_on_float_dust():
    # 10% of 0.37 per bar: 0.037 + 0.037 + ... leaves float residue in remsize; the order must still complete
    frame = candles([100.0] * 40, volume=[0.37] * 40)
    strategy, broker = run({"ETH/USD": frame}, broker_kwargs={"volume_share": 0.1},
                           script={1: [("buy", "ETH/USD", 0.3, {})], 12: [("sell", "ETH/USD", 0.3, {})]})
    statuses = [e["status"] for e in strategy.events]
    assert statuses.count("Completed") == 2
    assert broker.getposition(strategy.datas[0]).size == pytest.approx(0.0, abs=1e-12)
    assert not [o for o in broker.pending if o is not None and o.alive()]

