"""Independent backtests and fits as tasks on ``dask.distributed``: every core here, or an existing cluster.

Walk-forward folds, out-of-sample gate windows and parameter sweeps are lists of independent jobs. They go to
:func:`run_tasks`, which runs them in order in this process when there is no client (``run.scheduler: serial``,
and what library calls do by default), or submits them to a Dask client:

- ``local``: a ``LocalCluster`` of worker *processes* (backtrader and pandas hold the GIL), one thread each,
  sized to the machine;
- ``tcp://host:8786``: an existing scheduler, when one machine is no longer enough.

Results come back in submission order, so a run on a cluster is identical to a serial one (tested). A worker that
dies mid-task is replaced by its nanny and the scheduler reruns the task elsewhere (``retries`` more for errors
raised by the task itself); progress is shown as tasks complete. :func:`stream_tasks` hands results over as they
finish with a bounded number in flight, for sweeps too large to submit at once; :func:`share` sends data every
task needs to each worker once.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from kraken_global.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def check_scheduler(scheduler: str) -> str:
    if scheduler in ("serial", "local") or scheduler.startswith("tcp://"):
        return scheduler
    raise ConfigError(f"scheduler {scheduler!r}: use serial, local, or an address like tcp://host:8786")


@contextmanager
def dask_client(scheduler: str = "local", workers: int | None = None) -> Iterator[Any]:
    """A client for ``scheduler`` (None for ``serial``), closed with its cluster on exit. Every worker runs one
    native thread per task (:mod:`kraken_global.native_threads`), whatever the environment says."""
    check_scheduler(scheduler)
    if scheduler == "serial":
        yield None
        return
    from dask.distributed import Client, LocalCluster

    from kraken_global.native_threads import NativeThreadLimits

    if scheduler == "local":
        with LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                          dashboard_address=None, host="127.0.0.1") as cluster, Client(cluster) as client:
            client.register_plugin(NativeThreadLimits())
            yield client
        return
    try:
        client = Client(scheduler, timeout="20s")
    except OSError as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    with client:
        client.register_plugin(NativeThreadLimits())
        yield client


def share(client: Any, data: T) -> T | Any:
    """``data`` sent once to every worker (a future tasks take as an argument), or ``data`` itself without a
    client: tasks then read it where it is instead of receiving a copy each."""
    if client is None:
        return data
    return client.scatter(data, broadcast=True, hash=False)


def stream_tasks(function: Callable[[T], R], jobs: Iterable[T], client: Any = None, label: str = "tasks",
                 retries: int = 2, in_flight: int | None = None) -> Iterator[tuple[int, R]]:
    """``(position, function(job))`` for each job as it finishes: in order in this process without a client, else
    on the client's workers, in the order they finish.

    At most ``in_flight`` jobs are submitted at a time (default: four per worker thread, at least 8): ``jobs`` is
    read lazily, so a grid of any size is never built in memory, and each result is released by the scheduler as
    soon as it is handed over."""
    if client is None:
        for position, job in enumerate(jobs):
            yield position, function(job)
        return
    from dask.distributed import as_completed

    batch = uuid.uuid4().hex[:8]
    numbered = enumerate(jobs)
    limit = in_flight or max(8, 4 * sum(client.nthreads().values()))
    positions: dict[str, int] = {}
    running = as_completed()

    def submit_next() -> None:
        for position, job in itertools.islice(numbered, 1):
            future = client.submit(function, job, key=f"{label}-{batch}-{position}", retries=retries, pure=False)
            positions[future.key] = position
            running.add(future)

    for _ in range(limit):
        submit_next()
    for future in running:
        result = future.result()
        position = positions.pop(future.key)
        future.release()
        submit_next()
        yield position, result


def run_tasks(function: Callable[[T], R], items: Iterable[T], client: Any = None, label: str = "tasks",
              retries: int = 2, on_done: Callable[[int, int], None] | None = None) -> list[R]:
    """``[function(item) for item in items]``, on the client's workers when there is one; in order either way.
    Every item is submitted at once (they are few: folds, gate windows), largest-first orders are kept."""
    items = list(items)
    results: list[Any] = [None] * len(items)
    for done, (position, result) in enumerate(stream_tasks(function, items, client, label, retries,
                                                           in_flight=max(1, len(items))), start=1):
        results[position] = result
        if on_done is not None:
            on_done(done, len(items))
    return results
