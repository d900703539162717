"""Walk-forward folds on a real Dask LocalCluster (2 worker processes): identical to serial, and the run
survives a worker killed with SIGKILL in the middle of it."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest
from dask.distributed import Client, LocalCluster

from kraken_global.distributed import dask_client, run_tasks
from kraken_global.errors import ConfigError
from kraken_global.feeds import bundled_data_dir, load_candles
from kraken_global.feeds.sources import BUNDLED_FILES
from kraken_global.ml.features import FEATURES
from kraken_global.ml.training import TrainingSettings, dataset, train

HOUR = pd.Timedelta(hours=1)
SETTINGS = TrainingSettings(horizon=24, embargo=24, folds=4, seed=7)


@pytest.fixture(scope="module")
def candles():
    return {s: load_candles(bundled_data_dir() / BUNDLED_FILES[s]).loc["2018-06-01":"2019-06-01"]
            for s in ("BTC/USD", "ETH/USD", "XRP/USD")}


@pytest.fixture(scope="module")
def serial(candles):
    return train(candles, SETTINGS, HOUR, "{}")


def _kill_a_busy_worker(client: Client, killed: list) -> None:
    """SIGKILL the process of the first worker seen running a task."""
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        busy = [address for address, keys in client.processing().items() if keys]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])
            return
        time.sleep(0.02)


def test_walk_forward_on_a_local_cluster_equals_serial_even_when_a_worker_is_killed(candles, serial):
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        killed: list = []
        killer = threading.Thread(target=_kill_a_busy_worker, args=(client, killed))
        killer.start()
        model, manifest = train(candles, SETTINGS, HOUR, "{}", client=client)
        killer.join()
    assert killed, "no worker was killed: the test did not exercise recovery"
    serial_model, serial_manifest = serial
    assert manifest["metrics"] == serial_manifest["metrics"]
    assert manifest["data_hash"] == serial_manifest["data_hash"]
    x = dataset(candles, SETTINGS.horizon)[list(FEATURES)].to_numpy()[-2000:]
    np.testing.assert_array_equal(model.predict_proba(x), serial_model.predict_proba(x))


def test_run_tasks_keeps_submission_order_and_reports_progress():
    seen: list = []
    with dask_client("local", workers=2) as client:
        out = run_tasks(abs, [-3, 1, -2, 5], client, on_done=lambda done, total: seen.append((done, total)))
    assert out == [3, 1, 2, 5]
    assert seen[-1] == (4, 4)


def test_a_bad_scheduler_is_a_clear_error():
    with pytest.raises(ConfigError, match="scheduler"), dask_client("udp://nowhere"):
        pass


def test_an_existing_scheduler_is_used_by_its_address():
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster, dask_client(cluster.scheduler_address) as client:
        assert client.scheduler.address == cluster.scheduler_address
        assert run_tasks(abs, [-1, -2], client) == [1, 2]
