"""The base of every config section (frozen, and an unknown key is an error: a typo must not pass silently), and the
value types every section uses.

YAML is generous with types and pydantic, by default, too: ``cash: true`` would be read as 1 USD, ``seed: 2.0``
as 2, ``min_sharpe: .nan`` as a threshold every comparison passes. So config values use strict types: a number
is a YAML number (true/false and quoted text are not numbers), a float is finite, a whole number is written as
one, a flag is true or false, a path names something, and a port is one this project may listen on
(:mod:`kraken_global.ports`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, AllowInfNan, BaseModel, BeforeValidator, ConfigDict
from pydantic import Strict as StrictInput

from kraken_global.ports import port_problem

#: a finite number (an integer is fine); nan, inf, booleans and text are refused
FiniteFloat = Annotated[float, StrictInput(), AllowInfNan(False)]
#: a whole number written as one (``2``, not ``2.0``, ``"2"`` or ``true``)
WholeNumber = Annotated[int, StrictInput()]
#: ``true`` or ``false`` (not 1, 0 or "yes")
Flag = Annotated[bool, StrictInput()]


def _listenable(number: int) -> int:
    problem = port_problem(number)
    if problem:
        raise ValueError(problem)
    return number


def _listenable_or_any(number: int) -> int:
    problem = port_problem(number, any_free=True)
    if problem:
        raise ValueError(problem)
    return number


#: a TCP port to listen on, outside the privileged range
Port = Annotated[int, StrictInput(), AfterValidator(_listenable)]
#: the same, or 0: any free port (the system picks; the log says which)
ListenPort = Annotated[int, StrictInput(), AfterValidator(_listenable_or_any)]


def _nameable(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must name a file or folder, not an empty text (which would be the current folder)")
    if isinstance(value, str) and "\0" in value:
        raise ValueError("holds a NUL character, which no path can hold")
    return value


#: a file or folder: not an empty text (that would silently be the current folder), no NUL character
UserPath = Annotated[Path, BeforeValidator(_nameable)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
