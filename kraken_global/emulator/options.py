"""The ``kraken-global emulator`` command's options, checked before anything starts: one clear line for a value
that makes no sense (a speed of 0 or NaN, a negative balance, port 70000 or a privileged one, a start outside the
replayed data, an unknown permission or fee schedule, credentials a client could not use), which the CLI prints
without a traceback (exit 2).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kraken_global.emulator.controls import MAX_SPEED, ControlError, finite_number
from kraken_global.emulator.permissions import PERMISSIONS, parse_permissions
from kraken_global.errors import ConfigError
from kraken_global.fees import PRESETS, FeeSchedule
from kraken_global.files import read_json_limited
from kraken_global.live.credentials import MAX_CREDENTIALS_BYTES, Credentials
from kraken_global.ports import port_problem

if TYPE_CHECKING:
    from kraken_global.emulator.market import Market

FILL_MODELS = ("close", "path")
MAX_SKEW = 3600.0


def add_emulator_options(parser: argparse.ArgumentParser) -> None:
    """The options of Kraken's exchange the emulator can be started with (beyond port, speed, start, usd)."""
    parser.add_argument("--asset-pairs", type=Path, metavar="FILE",
                        help="JSON of pair rules that differ from the bundled ones (Kraken's AssetPairs shape) "
                             "(default: the bundled rules)")
    parser.add_argument("--permissions", metavar="LIST",
                        help=f"comma-separated permissions of the API key (default all: {','.join(PERMISSIONS)})")
    parser.add_argument("--fees", default="kraken-legacy", metavar="SCHEDULE",
                        help=f"fee schedule charged: {', '.join(PRESETS)} (default kraken-legacy)")
    parser.add_argument("--fills", default="close", metavar="MODEL",
                        help="close: market orders fill at once at the last close; path: in partial fills "
                             "along each bar's path and volume")
    parser.add_argument("--clock-skew", type=float, default=0.0, metavar="SECONDS",
                        help="Kraken's clock (Time, order times, deadlines, the dead man's switch) runs this many "
                             "seconds ahead of this machine's (negative: behind), as a client with a wrong clock "
                             f"sees it (default 0; at most {MAX_SKEW:g} either way)")


@dataclass(frozen=True)
class EmulatorOptions:
    host: str
    port: int
    speed: float
    start: datetime
    usd: float
    permissions: frozenset[str]
    fees: FeeSchedule
    fills: str
    asset_pairs: Path | None
    clock_skew: float = 0.0


def _check(value: Any, name: str, **limits: Any) -> float:
    try:
        return finite_number(value, name, **limits)
    except ControlError as exc:
        raise ConfigError(f"--{exc}") from None


def emulator_options(args: argparse.Namespace, market: Market) -> EmulatorOptions:
    """The checked options; ``market`` (the replayed candles) bounds ``--start``."""
    problem = port_problem(args.port, any_free=True)
    if problem:
        raise ConfigError(f"--port: {problem}")
    speed = _check(args.speed, "speed", minimum=0.0, maximum=MAX_SPEED)  # 0: a paused clock
    usd = _check(args.usd, "usd", minimum=0.0, maximum=1e12)
    start = datetime.fromisoformat(args.start)
    first = min(frame.index[0] for frame in market.candles.values())
    last = max(frame.index[-1] for frame in market.candles.values())
    if not first <= start <= last:
        raise ConfigError(f"--start {args.start} is outside the replayed candles ({first:%Y-%m-%d} to "
                          f"{last:%Y-%m-%d})")
    try:
        permissions = parse_permissions(args.permissions.split(",") if args.permissions is not None else None)
    except ValueError as exc:
        raise ConfigError(f"--permissions: {exc}") from None
    if args.fees not in PRESETS:
        raise ConfigError(f"--fees must be one of {', '.join(PRESETS)}, got {args.fees!r}")
    if args.fills not in FILL_MODELS:
        raise ConfigError(f"--fills must be one of {', '.join(FILL_MODELS)}, got {args.fills!r}")
    try:
        host = str(ipaddress.ip_address(args.host))
    except ValueError:
        raise ConfigError(f"--host must be an IP address to listen on (127.0.0.1, or 0.0.0.0 in a container), "
                          f"got {args.host!r}") from None
    skew = _check(args.clock_skew, "clock-skew", minimum=-MAX_SKEW, maximum=MAX_SKEW)
    return EmulatorOptions(host, args.port, speed, start, usd, permissions, PRESETS[args.fees], args.fills,
                           args.asset_pairs, skew)


def load_or_create_credentials(path: Path, new: Any) -> tuple[str, str]:
    """The key and secret in ``path`` (mode 0600), or new ones written there; bad files raise one line."""
    if path.exists():
        if not path.is_file():
            raise ConfigError(f"--credentials {path} is not a file")
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{path} is readable by others: chmod 600 it")
        stored = read_json_limited(path, "credentials file", MAX_CREDENTIALS_BYTES)
        if not isinstance(stored, dict) or not all(isinstance(stored.get(k), str) and stored.get(k)
                                                    for k in ("key", "secret")):
            raise ConfigError(f"{path} must hold a JSON object with a \"key\" and a \"secret\" string "
                              "(delete it and the emulator writes a new one)")
        try:  # the same rules as a session's credentials: a key a client can send, a base64 secret
            Credentials(stored["key"], stored["secret"])
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc} (delete it and the emulator writes a new one)") from None
        return stored["key"], stored["secret"]
    key, secret = new()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"key": key, "secret": secret}, handle)
    return key, secret
