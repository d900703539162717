"""The base of every config section: frozen, and an unknown key is an error (a typo must not pass silently)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
