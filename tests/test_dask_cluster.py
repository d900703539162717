"""A real multi-process Dask cluster, started as a user would (``dask scheduler`` and ``dask worker`` on 127.0.0.1,
free ports), with an environment that asks for 4 native threads: the project's sweep runs on it and gives the
serial table, every worker ends up with one native thread per task anyway, and a streamed run never has more
jobs out than it allows. Everything started is stopped at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from kraken_global.distributed import dask_client, stream_tasks
from kraken_global.registry.trials import TrialLedger

ROOT = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).with_name("dask")
START_SECONDS = 120


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "OMP_NUM_THREADS": "4", "OPENBLAS_NUM_THREADS": "4", "MKL_NUM_THREADS": "4",
           "PYTHONPATH": str(ROOT)}  # this module's functions are sent by reference
    scheduler = subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(scheduler_file)], cwd=folder, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = [scheduler]
    try:
        deadline = time.monotonic() + START_SECONDS
        while not scheduler_file.exists() and time.monotonic() < deadline and scheduler.poll() is None:
            time.sleep(0.05)
        assert scheduler_file.exists(), "the Dask scheduler did not start"
        address = json.loads(scheduler_file.read_text())["address"]
        started.append(subprocess.Popen([str(DASK), "worker", "--scheduler-file", str(scheduler_file),
                                         "--nworkers", "2", "--nthreads", "1", "--no-dashboard",
                                         "--host", "127.0.0.1"], cwd=folder, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from dask.distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=START_SECONDS)
        yield address
    finally:
        for process in reversed(started):
            _stop(process)


def _thread_pools() -> dict:
    """What a worker's process sees after importing scikit-learn (which loads its OpenMP runtime)."""
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import threadpool_info

    return {"env": os.environ.get("OMP_NUM_THREADS"),
            "threads": sorted({pool["num_threads"] for pool in threadpool_info()})}


def test_every_worker_runs_one_native_thread_whatever_its_environment_says(scheduler_address):
    with dask_client(scheduler_address) as client:
        pools = client.run(_thread_pools)
    assert len(pools) == 2
    for pool in pools.values():
        assert pool == {"env": "1", "threads": [1]}


def test_a_sweep_on_the_cluster_gives_the_serial_table_and_counts_each_point_once(scheduler_address, tmp_path):
    args = ["sweep", "--config", "configs/quick.yaml", "--set", "strategy.params.fast=40,60",
            "--set", "strategy.params.slow=200,300", "--artifacts", str(tmp_path / "artifacts")]
    for name, scheduler in (("cluster", scheduler_address), ("serial", "serial")):
        done = subprocess.run([sys.executable, "-m", "kraken_global.cli", *args, "--scheduler", scheduler,
                               "--out", str(tmp_path / name)], capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "cluster" / "sweep.csv"),
                                  pd.read_csv(tmp_path / "serial" / "sweep.csv"))
    assert json.loads((tmp_path / "cluster" / "metrics.json").read_text())["finished"] == 4
    ledger = TrialLedger(tmp_path / "artifacts" / "kraken_global")
    assert ledger.count() == 4  # a sweep of N points is N trials, and the same points again the same trials


def _slow_square(x: int) -> int:
    time.sleep(0.05)
    return x * x


def test_a_stream_keeps_at_most_its_limit_of_jobs_out(scheduler_address):
    pulled = []

    def jobs():
        for x in range(40):
            pulled.append(x)
            yield x

    with dask_client(scheduler_address) as client:
        seen = {}
        for position, result in stream_tasks(_slow_square, jobs(), client, in_flight=3):
            assert len(pulled) - len(seen) - 1 <= 3  # besides the one handed over, at most 3 out
            seen[position] = result
    assert seen == {x: x * x for x in range(40)}
