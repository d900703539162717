"""Many command lines of the real CLI in one Python process, for tables of hostile inputs.

``python -m kraken_global.cli ARGS`` is ``sys.exit(main(ARGS))``; this module does exactly that for each command
of a batch, in its own working directory, with stdout and stderr captured and an uncaught exception printed as the
interpreter would print it (so a test sees the traceback a user would see). The interpreter and the project's
imports start once for the batch instead of once per command. Every command gets a time limit: a command still
running after it is reported as a hang (a blocking read, a FIFO, is interrupted by the alarm); the address space
is limited so that a command reading without end (``/dev/zero``) fails with MemoryError instead of exhausting the
machine.

Run as ``python -m tests.cli_batch`` with a JSON list of ``{"argv": [...], "cwd": "..."}`` on stdin; prints a JSON
list of ``{"code", "stdout", "stderr", "hang"}``. Use :func:`run_batch` from tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import subprocess
import sys
import traceback
from pathlib import Path

MEMORY_LIMIT = 4 * 1024**3  # bytes of address space for the whole batch
SECONDS_PER_COMMAND = 60


class Hang(BaseException):
    """A command that did not end within its time limit."""


def _alarm(_signum, _frame):
    raise Hang()


def _run_one(argv: list[str], cwd: str) -> dict:
    from kraken_global.cli import main

    out, err = io.StringIO(), io.StringIO()
    os.chdir(cwd)
    code, hang = 0, False
    signal.alarm(SECONDS_PER_COMMAND)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse, and sys.exit(main()) itself
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Hang:
                hang, code = True, None
            except Exception:  # what the interpreter prints for an uncaught exception, and its exit code
                traceback.print_exc()
                code = 1
    finally:
        signal.alarm(0)
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue(), "hang": hang}


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    signal.signal(signal.SIGALRM, _alarm)
    commands = json.load(sys.stdin)
    results = [_run_one(c["argv"], c["cwd"]) for c in commands]
    sys.__stdout__.write(json.dumps(results))


def run_batch(commands: list[tuple[list[str], Path]], timeout: float = 600) -> list[dict]:
    """Run ``(argv, cwd)`` commands in one subprocess; one result per command, in order."""
    done = subprocess.run([sys.executable, "-m", "tests.cli_batch"], cwd=Path(__file__).parents[1], text=True,
                          input=json.dumps([{"argv": argv, "cwd": str(cwd)} for argv, cwd in commands]),
                          capture_output=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


if __name__ == "__main__":
    main()
