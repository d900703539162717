"""The lower room: the parts of a cerebro (data, broker, strategies, analyzers, warm-up, the regime plan) and the
collection of its results, shared by backtests (:mod:`kraken_global.runners`), sessions
(:mod:`kraken_global.sessions`), replays (:mod:`kraken_global.replay`) and the gates. Nothing here imports those."""
