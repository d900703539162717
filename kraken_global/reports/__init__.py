"""Results for people: a run's results folder, its console summary and its pictures. Backtests, sessions and
replays report through here; nothing here runs a cerebro (types come from the runners only for type checking)."""
