"""How numbers look in a table for people: money, percentages, missing values, and the table itself.

Every console table of the project (backtest and session summaries, breakdowns, the registry's commands) formats
through here, so a missing figure always reads ``-`` and money always reads ``1,234.56``. ``--json`` outputs do not
come through here: machines get the raw values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich import box
from rich.table import Table

MISSING = "-"


def money(value: float | None, decimals: int = 0, signed: bool = False) -> str:
    if value is None:
        return MISSING
    return f"{value:+,.{decimals}f}" if signed else f"{value:,.{decimals}f}"


def pct(value: float | None, decimals: int = 1, signed: bool = False) -> str:
    if value is None:
        return MISSING
    return f"{value:+,.{decimals}f}%" if signed else f"{value:,.{decimals}f}%"


def number(value: float | None, decimals: int = 2) -> str:
    return MISSING if value is None else f"{value:,.{decimals}f}"


def text(value: Any) -> str:
    return MISSING if value is None or value == "" else str(value)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], left: int = 1,
          compact: bool = False, caption: str | None = None, header: bool = True) -> Table:
    """A rich table whose first ``left`` columns are left-aligned (names) and the rest right-aligned (figures)."""
    out = Table(title=title, caption=caption, box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD,
                padding=(0, 1) if not compact else (0, 0, 0, 1), show_header=header)
    for index, column in enumerate(columns):
        out.add_column(column, justify="left" if index < left else "right", overflow="fold", no_wrap=index == 0)
    for row in rows:
        out.add_row(*(text(cell) for cell in row))
    return out


def key_values(title: str | None, pairs: Iterable[tuple[str, Any]]) -> Table:
    """A two-column table of labelled facts (a manifest, a policy)."""
    return table(title, ("", ""), pairs, left=2, compact=True, header=False)
