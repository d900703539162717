"""One exception family for the project, grouped by what the user must do about it.

The CLI prints these without a traceback and exits non-zero; every message says what was wrong, where
(file, row, key path) and, where it can, how to fix it.
"""

from __future__ import annotations


class KrakenGlobalError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(KrakenGlobalError, ValueError):
    """A configuration file, value or CLI argument is wrong: the user must edit it.

    It is also a ValueError so that pydantic validators can raise it and the message gets the key path.
    """


class UnknownSymbolError(ConfigError):
    """A pair name that the universe does not know; the message lists the known ones."""


class DataError(KrakenGlobalError):
    """Market data is missing or malformed: the user must fix or replace the file.

    ``path``, ``row`` (1-based line number in the file, header lines included), ``problem`` and ``at`` (the
    candle time of the offending row, when there is one) are kept as attributes so tools can report them without
    parsing the message (the warm-up, for one, says whether a problem lies before the evaluation period).
    """

    def __init__(self, problem: str, path: str | None = None, row: int | None = None, at=None) -> None:
        self.problem = problem
        self.path = path
        self.row = row
        self.at = at
        where = path or ""
        if row is not None:
            where = f"{where}, row {row}"
        super().__init__(f"{where}: {problem}" if where else problem)


class InsufficientEvidence(ConfigError):
    """Too few configurations or days for a statistic (PBO, a Monte Carlo) to mean anything: the user must give
    it more (a larger grid, a longer period)."""
