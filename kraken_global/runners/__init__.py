"""Runners: assemble cerebro for a mode (backtest now; paper and live later) and report the results."""

from kraken_global.runners.backtest import BacktestResult, build_cerebro, run_backtest

__all__ = ["BacktestResult", "build_cerebro", "run_backtest"]
