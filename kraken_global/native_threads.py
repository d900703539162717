"""One native thread per task in every Dask worker, set by the project rather than by the user's environment.

numpy's BLAS, scikit-learn's OpenMP loops and MKL each start a pool as large as the machine. Two worker processes
on two cores then run four or more busy threads and slow each other down: walk-forward training on 2 workers
measured 0.92x of 1 worker until the parent happened to have ``OMP_NUM_THREADS=1``. Dask's nanny sets that
variable only when the environment does not already, and a ``dask worker`` started by hand inherits whatever its
shell had. So :class:`NativeThreadLimits` is registered on every client the project opens: each worker (and
every worker that joins or replaces one later) sets the variables for libraries not yet loaded and caps the pools
of those already loaded with threadpoolctl.
"""

from __future__ import annotations

import os

from distributed.diagnostics.plugin import WorkerPlugin

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS")


def limit_native_threads(threads: int = 1) -> None:
    """Cap every native thread pool of this process at ``threads``, loaded now or later."""
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)


class NativeThreadLimits(WorkerPlugin):
    """A worker plugin: :func:`limit_native_threads` in each worker process, once, before its first task."""

    name = "kraken-global-native-threads"

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads

    def setup(self, worker) -> None:
        limit_native_threads(self.threads)
