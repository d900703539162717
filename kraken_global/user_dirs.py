"""Where files that belong to the user rather than to a run live: XDG base directories, each with its own override.

Everything a command writes goes under a folder the user named (``--out``, ``--data-dir``, a config key) or, for
the two things that must outlive any project folder, under an XDG base directory that an environment variable
moves: the audit key and anchors (``$KRAKEN_GLOBAL_KEY_DIR``, else ``$XDG_CONFIG_HOME/kraken-global``, else
``~/.config/kraken-global``) and the live key lock with its nonce floor (``live.key_lock_dir``, else
``$KRAKEN_GLOBAL_LOCK_DIR``, else ``$XDG_STATE_HOME/kraken-global/keys``, else
``~/.local/state/kraken-global/keys``).
A container whose user has no writable home sets the variable (or the config key) to a mounted volume.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "kraken-global"
XDG_FALLBACKS = {"XDG_CONFIG_HOME": (".config",), "XDG_STATE_HOME": (".local", "state")}


def user_dir(override: str, xdg: str, *parts: str) -> Path:
    """``$override`` if set; else ``$xdg/kraken-global/<parts>`` (an absolute ``$xdg`` only, as the XDG spec
    says); else the spec's fallback under the home folder."""
    configured = os.environ.get(override)
    if configured:
        return Path(configured)
    base = os.environ.get(xdg)
    root = Path(base) if base and Path(base).is_absolute() else Path.home().joinpath(*XDG_FALLBACKS[xdg])
    return root.joinpath(APP, *parts)
