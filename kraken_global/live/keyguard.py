"""One process per API key, and nonces that keep growing for a key across restarts.

Kraken refuses a private call whose nonce is not larger than the last one it saw for the key
(``EAPI:Invalid nonce``), so two processes on one key make each other fail, and a restarted process whose clock
stepped back would too. The guard holds an exclusive lock file per key (released by the OS even when the process
is killed) and hands out nonces ``max(now in ms, last + 1)``, persisting the last one beside the lock. The files
are named by a hash of the key, never the key.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

from filelock import FileLock, Timeout

from kraken_global.files import read_limited
from kraken_global.live.errors import LiveError

DEFAULT_DIRECTORY = Path.home() / ".kraken-global" / "keys"


class KeyInUse(LiveError):
    pass


class KeyGuard:
    def __init__(self, key: str, directory: Path | None = None) -> None:
        self.directory = Path(directory or DEFAULT_DIRECTORY)
        name = hashlib.sha256(key.encode()).hexdigest()[:16]
        self.lock_path = self.directory / f"{name}.lock"
        self.nonce_path = self.directory / f"{name}.nonce"
        self._lock = FileLock(self.lock_path, timeout=0, thread_local=False)
        self._mutex = threading.Lock()
        self._last = 0

    def __repr__(self) -> str:
        return f"KeyGuard(lock={str(self.lock_path)!r})"

    def acquire(self) -> KeyGuard:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except Timeout:
            raise KeyInUse(f"another kraken-global session is using this API key (lock {self.lock_path}); stop it "
                           "first, or give each session its own API key: Kraken needs one process per key") from None
        except OSError as exc:
            raise LiveError(f"cannot lock the API key in {self.directory} ({exc.strerror}); set live.key_lock_dir "
                            "to a writable folder") from None
        try:  # a FIFO or a device in its place is not waited on
            text = read_limited(self.nonce_path, "nonce file", 100) if self.nonce_path.exists() else b""
            self._last = int(text.strip() or 0)
        except ValueError:  # not a number, or not a file: nonces go on from the clock, which they follow anyway
            self._last = 0
        return self

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()

    def nonce(self) -> int:
        """The next nonce: wall-clock milliseconds (as ccxt sends), never below the last one handed out."""
        with self._mutex:
            self._last = max(int(time.time() * 1000), self._last + 1)
            temporary = self.nonce_path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(str(self._last))
            os.replace(temporary, self.nonce_path)
            return self._last
