"""Research that cannot fool itself: the math behind walk-forward optimization, the probability of backtest
overfitting, Monte Carlo resampling and cost stress.

Every module here is pure functions over plain data (daily returns, configs, scores) returning frozen results with
a ``to_dict()`` for JSON, so a runner, a report or a gate can call them alike. Running backtests is the runners'
job (:mod:`kraken_global.runners.sweep`, :mod:`kraken_global.runners.optimize`).
"""
