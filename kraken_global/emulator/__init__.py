"""A local Kraken spot REST emulator: Kraken's paths, JSON shapes, signatures and error strings, with orders
matched against replayed real candles on a clock that can run faster than real time, and faults on demand.

It is what the live store is tested against (the real ccxt client over HTTP on 127.0.0.1), and a sandbox for
users, since Kraken has none for spot: ``kraken-global emulator --port 8799``.
"""

from typing import TYPE_CHECKING

from kraken_global.lazy import lazy_exports

if TYPE_CHECKING:
    from kraken_global.emulator.server import EmulatorServer

__all__ = ["EmulatorServer"]
# the CLI reads the emulator's options without loading pandas and candles: the server comes on first use
__getattr__ = lazy_exports(__name__, {"EmulatorServer": "server"}, globals())
