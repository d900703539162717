"""Independent backtests and fits as tasks on ``dask.distributed``: every core here, or an existing cluster.

Walk-forward folds, out-of-sample gate windows and parameter sweeps are lists of independent jobs. They go to
:func:`run_tasks`, which runs them in order in this process when there is no client (``run.scheduler: serial``,
and what library calls do by default), or submits them to a Dask client:

- ``local``: a ``LocalCluster`` of worker *processes* (backtrader and pandas hold the GIL), one thread each,
  sized to the machine;
- ``tcp://host:8786``: an existing scheduler, when one machine is no longer enough.

Results come back in submission order, so a run on a cluster is identical to a serial one (tested). A worker that
dies mid-task is replaced by its nanny and the scheduler reruns the task elsewhere (``retries`` more for errors
raised by the task itself); progress is shown as tasks complete.
"""

from __future__ import annotations

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
    """A client for ``scheduler`` (None for ``serial``), closed with its cluster on exit."""
    check_scheduler(scheduler)
    if scheduler == "serial":
        yield None
        return
    from dask.distributed import Client, LocalCluster

    if scheduler == "local":
        with LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                          dashboard_address=None, host="127.0.0.1") as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout="20s")
    except OSError as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    with client:
        yield client


def run_tasks(function: Callable[[T], R], items: Iterable[T], client: Any = None, label: str = "tasks",
              retries: int = 2, on_done: Callable[[int, int], None] | None = None) -> list[R]:
    """``[function(item) for item in items]``, on the client's workers when there is one; in order either way."""
    items = list(items)
    done = 0
    if client is None:
        results = []
        for item in items:
            results.append(function(item))
            done += 1
            if on_done is not None:
                on_done(done, len(items))
        return results
    from dask.distributed import as_completed

    batch = uuid.uuid4().hex[:8]
    futures = client.map(function, items, retries=retries, pure=False,
                         key=[f"{label}-{batch}-{i}" for i in range(len(items))])
    for _ in as_completed(futures):
        done += 1
        if on_done is not None:
            on_done(done, len(items))
    return client.gather(futures)
