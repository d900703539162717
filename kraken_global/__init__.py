"""kraken-global: a backtrader plugin for Kraken spot crypto.

One ``cerebro`` runs a historical backtest, paper trading and live trading; only the feed and broker it is
given differ. The public parts are importable from their subpackages:

- :mod:`kraken_global.universe` - the pairs, their Kraken ids and exchange rules.
- :mod:`kraken_global.feeds` - loaders for Kraken exports and the numpy-backed backtrader feed.
- :mod:`kraken_global.paper_broker` - the Kraken paper broker (fees, slippage, precision, partial fills).
- :mod:`kraken_global.schedule` - the daily downtime window.
- :mod:`kraken_global.analyzers` - performance, risk and cost analyzers.
- :mod:`kraken_global.strategies` - trading strategies.
"""

__version__ = "0.1.0"
