"""Reading a file a user points at: a regular file only, and never more of it than a limit, counted on what is read.

The size ``stat`` reports is not a bound: ``/dev/zero`` and ``/dev/urandom`` report 0 bytes and never end, a FIFO
reports 0 and blocks until someone writes to it, a file in ``/proc`` reports 0 and has content. So a file is opened
without blocking (a FIFO opens at once), refused unless ``fstat`` of the open file says it is a regular file (no
window between the check and the read), and read up to ``limit + 1`` bytes: one byte over is enough to refuse it.
Every config, credentials, status, session and JSON file the project reads goes through :func:`read_limited`;
data files, which can be far larger than memory and are streamed, go through :func:`check_regular` first.

Errors are raised as ``error`` (a :class:`~kraken_global.errors.ConfigError` by default, a ``DataError`` for data
files), one line naming the file, what it is for and how to fix it.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from kraken_global.errors import ConfigError

KB, MB = 1_000, 1_000_000


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse(error: type[Exception], what: str, path: Path, problem: str) -> Exception:
    return error(f"{what} {path} {problem}")


def check_regular(path: Path, what: str, error: type[Exception] = ConfigError) -> os.stat_result:
    """``path``'s stat if it is a regular file (symlinks followed); else ``error`` saying what it is instead."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _refuse(error, what, path, "does not exist") from None
    except OSError as exc:
        raise _refuse(error, what, path, f"cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(error, what, path, f"is {_kind(info.st_mode)}: name a regular file")
    return info


def read_limited(path: Path, what: str, limit: int, error: type[Exception] = ConfigError) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them (a longer file is refused, not cut)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise _refuse(error, what, path, "does not exist") from None
    except IsADirectoryError:
        raise _refuse(error, what, path, "is a folder: name a file") from None
    except OSError as exc:
        raise _refuse(error, what, path, f"cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            hint = "name a file" if stat.S_ISDIR(info.st_mode) else "name a regular file"
            raise _refuse(error, what, path, f"is {_kind(info.st_mode)}: {hint}")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, MB) or 1)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise _refuse(error, what, path, f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > limit:
        total = max(info.st_size, size)
        raise _refuse(error, what, path, f"is {total:,} bytes{' or more' if total == size else ''}, over the "
                                         f"{limit:,} a {what} may have: is it the right file?")
    return b"".join(chunks)


def read_text_limited(path: Path, what: str, limit: int, error: type[Exception] = ConfigError) -> str:
    """:func:`read_limited` decoded as UTF-8 (a byte-order mark is dropped)."""
    data = read_limited(path, what, limit, error)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _refuse(error, what, path, f"is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None


def read_json_limited(path: Path, what: str, limit: int, error: type[Exception] = ConfigError) -> Any:
    """The JSON value in ``path`` (read with :func:`read_text_limited`); malformed JSON is ``error``."""
    text = read_text_limited(path, what, limit, error)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _refuse(error, what, path, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                                         f"{exc.msg})") from None
    except RecursionError:
        raise _refuse(error, what, path, "is nested too deeply to be read") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise _refuse(error, what, path, f"is not valid JSON: {exc}") from None
