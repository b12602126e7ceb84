"""The distributed path for real: a Dask scheduler and two workers started as separate processes on 127.0.0.1 (the
`dask scheduler` / `dask worker` commands), `calibrate` and `sbc` run on them from the command line give the numbers
of a serial run, and a worker killed while it runs a task costs a retry, not a result."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # three extra processes and several NUTS fits (about two minutes)

BIN = Path(sys.executable).parent
#: What depends on where and when a run happened (or the output file it was named after), not on what it computed.
TIMINGS = {"seconds", "sampling_seconds", "task_seconds", "speedup", "scheduler", "wall_seconds", "analysis"}


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded workers, each its own process; yields (address, {name: process})."""
    folder = tmp_path_factory.mktemp("cluster")
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "DASK_LOGGING__DISTRIBUTED": "error"}
    scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not scheduler_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    address = json.loads(scheduler_file.read_text())["address"]
    workers = {name: subprocess.Popen([str(BIN / "dask"), "worker", "--scheduler-file", str(scheduler_file),
                                       "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--name", name,
                                       "--host", "127.0.0.1"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for name in ("w1", "w2")}
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
    try:
        yield address, workers
    finally:
        for process in (*workers.values(), scheduler):
            process.terminate()
        for process in (*workers.values(), scheduler):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory, simulated_frame):
    path = tmp_path_factory.mktemp("runs") / "runs.csv"
    simulated_frame.drop(columns=["compute"]).to_csv(path, index=False)
    return path


def _cli(*args: str, out: Path) -> subprocess.Popen:
    command = [str(BIN / "bayes-scaling"), "-q", *args, "--out", str(out), "--json"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finished(process: subprocess.Popen, out: Path) -> dict:
    _, err = process.communicate(timeout=900)
    assert process.returncode in (0, 1), err  # 1: an SBC rank test may reject on so few simulations
    return json.loads(out.read_text())


def test_calibrate_and_sbc_on_an_external_cluster_match_serial_runs(cluster, runs_csv, tmp_path):
    address, _ = cluster
    data = ["--law", "chinchilla", "--data", str(runs_csv), "--seed", "3", "--draws", "300", "--tune", "300",
            "--discrepancy", "after"]  # the cluster's mechanics, with the faster fit
    calibrate = ["calibrate", *data, "--hold-out", "0.2", "0.3", "--replicates", "10", "--bootstrap-starts", "9"]
    sbc = ["sbc", *data, "--simulations", "4"]
    jobs = {(name, where): _cli(*argv, "--scheduler", where, out=tmp_path / f"{name}-{where.split(':')[0]}.json")
            for name, argv in (("calibrate", calibrate), ("sbc", sbc)) for where in ("serial", address)}
    results = {key: _finished(process, tmp_path / f"{key[0]}-{key[1].split(':')[0]}.json")
               for key, process in jobs.items()}
    for name in ("calibrate", "sbc"):
        assert _without_timings(results[(name, "serial")]) == _without_timings(results[(name, address)])
    assert len(results[("calibrate", address)]["rows"]) >= 4


def test_a_worker_killed_mid_task_costs_a_retry_not_a_result(cluster, runs_csv, tmp_path):
    from distributed import Client

    address, workers = cluster
    data = ["--law", "chinchilla", "--data", str(runs_csv), "--seed", "5", "--draws", "300", "--tune", "300",
            "--discrepancy", "after"]  # the cluster's mechanics, with the faster fit
    argv = ["calibrate", *data, "--hold-out", "0.2", "0.3", "--replicates", "10", "--bootstrap-starts", "9"]
    serial = _cli(*argv, "--scheduler", "serial", out=tmp_path / "serial.json")
    on_cluster = _cli(*argv, "--scheduler", address, out=tmp_path / "cluster.json")
    killed = None
    with Client(address, timeout=30) as client:
        deadline = time.monotonic() + 300
        while killed is None and time.monotonic() < deadline and on_cluster.poll() is None:
            busy = {address_: keys for address_, keys in client.processing().items() if keys}
            names = {a: info["name"] for a, info in client.scheduler_info()["workers"].items()}
            victim = next((names[a] for a in busy if names.get(a) in workers), None)
            if victim is not None:
                time.sleep(1.0)  # well inside the task (a NUTS fit and a bootstrap take several seconds)
                workers[victim].send_signal(signal.SIGKILL)
                killed = victim
            time.sleep(0.2)
    assert killed is not None, "no worker was seen running a task"
    expected = _finished(serial, tmp_path / "serial.json")
    got = _finished(on_cluster, tmp_path / "cluster.json")
    assert _without_timings(got) == _without_timings(expected)
