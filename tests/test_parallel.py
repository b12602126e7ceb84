"""Dask scale-out gives the same numbers as a serial run with the same seeds."""

import pytest

from bayes_scaling.data.runs import RunTable, validate_table
from bayes_scaling.laws import get_law
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.sampling.model import all_priors
from bayes_scaling.sampling.run import PreparedFit
from bayes_scaling.spec import AnalysisSpec, DataSpec, SamplerSpec
from bayes_scaling.util.parallel import run_tasks, shared_scheduler
from bayes_scaling.validation.sbc import sbc


def _square(x):
    return x * x


def _gc_threshold(_):
    import gc

    return gc.get_threshold()[0]


def test_tasks_come_back_in_order_on_any_scheduler():
    serial, _ = run_tasks(_square, [3, 1, 2], scheduler="serial")
    local, _ = run_tasks(_square, [3, 1, 2], scheduler="local", workers=2)
    assert serial == local == [9, 1, 4]


def test_local_workers_collect_garbage_as_the_command_does_and_this_process_is_left_alone():
    import gc

    from bayes_scaling.util.garbage import ALLOCATIONS

    before = gc.get_threshold()
    thresholds, _ = run_tasks(_gc_threshold, range(4), scheduler="local", workers=2)
    assert thresholds == [ALLOCATIONS] * 4 and gc.get_threshold() == before


def _worker_pid(_):
    import os

    return os.getpid()


def test_runs_inside_shared_scheduler_use_the_same_local_workers():
    """A report's calibrations share one LocalCluster: the second run's tasks land on the first run's worker
    processes (nothing is started again); another scheduler is passed through as it is."""
    with shared_scheduler("serial") as scheduler_for:
        assert scheduler_for() == "serial"
    with shared_scheduler("local", workers=2) as scheduler_for:
        address = scheduler_for()
        first, _ = run_tasks(_worker_pid, range(6), scheduler=address, workers=2)
        second, _ = run_tasks(_worker_pid, range(6), scheduler=scheduler_for(), workers=2)
        assert scheduler_for() == address and address.startswith("tcp://")
    assert len(set(first) | set(second)) <= 2  # the same two worker processes served both runs


@pytest.fixture()
def prepared(simulated_frame):
    law, likelihood = get_law("chinchilla"), get_likelihood("student_t")
    columns = {k: k for k in ("n_params", "n_tokens", "compute", "loss")}
    runs = RunTable(frame=validate_table(simulated_frame, "simulated", columns), source={"file": "simulated"})
    spec = AnalysisSpec(name="sim", law="chinchilla", data=DataSpec(csv="simulated"),
                        sampler=SamplerSpec(seed=4))
    return PreparedFit(spec, law, likelihood, all_priors(law, likelihood), runs)


def _serial_sbc(prepared, kwargs):
    return sbc(prepared, 3, scheduler="serial", **kwargs)


@pytest.mark.slow  # a LocalCluster and a fresh process
def test_sbc_on_a_local_cluster_matches_the_serial_run(prepared):
    """As from the command line, each run starts in a fresh process: the serial one in a spawned interpreter (this
    test process has compiled and sampled many other models, which has been seen to change NUTS draws in their
    last bits; see the calibrate benchmark)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    kwargs = {"seed": 4, "draws": 100, "tune": 100}
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        serial = pool.submit(_serial_sbc, prepared, kwargs).result()
    local = sbc(prepared, 3, scheduler="local", workers=2, **kwargs)
    assert local["ranks"] == serial["ranks"] and local["skipped"] == serial["skipped"]
    assert len(local["task_seconds"]) == len(serial["task_seconds"]) == 3  # one simulation per task


@pytest.mark.slow  # a LocalCluster in a subprocess
def test_sigterm_closes_the_local_cluster_cleanly(tmp_path):
    """A run stopped by SIGTERM (``timeout``, a job scheduler) shuts its LocalCluster down: exit status 128 + 15 and
    no leaked worker processes or semaphores reported."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "run.py"
    script.write_text(
        "import time\n"
        "from bayes_scaling.util.parallel import run_tasks\n"
        "def slow(x):\n"
        "    time.sleep(60)\n"
        "if __name__ == '__main__':\n"
        "    print('started', flush=True)\n"
        "    run_tasks(slow, [1, 2], scheduler='local', workers=2, progress=lambda *_: None)\n")
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "started"
    time.sleep(8)  # the cluster is up and the tasks are running
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 128 + signal.SIGTERM
    assert "leaked" not in stderr, stderr


def test_two_local_clusters_at_once_print_no_port_warning():
    """A LocalCluster takes a free port for its dashboard, so one started while another holds Dask's default port
    8787 (a report beside a test run) does not warn that the port is in use."""
    import warnings

    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:8787"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert run_tasks(_square, [1, 2], scheduler="local", workers=1)[0] == [1, 4]
    assert not [w for w in caught if "already in use" in str(w.message)]


def test_an_sbc_fit_is_sampled_longer_only_when_it_mixes_but_lacks_the_draws_its_ranks_count():
    from bayes_scaling.sampling.diagnostics import Diagnostics
    from bayes_scaling.validation.sbc import RANK_DRAWS, needs_more_draws

    def diag(ess=0.75 * RANK_DRAWS, rhat=1.004, divergences=0):
        return Diagnostics(rhat={"E": rhat, "A": 1.0}, ess_bulk={"E": ess, "A": 900.0},
                           ess_tail={"E": 900.0, "A": 900.0}, divergences=divergences, draws=1000)

    assert needs_more_draws(diag(), ["E", "A"]) and not needs_more_draws(diag(ess=RANK_DRAWS + 1), ["E", "A"])
    assert needs_more_draws(diag(rhat=1.03), ["E", "A"])  # slow mixing: more draws help
    assert not needs_more_draws(diag(rhat=1.2), ["E", "A"])  # chains disagree: they would not
    assert not needs_more_draws(diag(divergences=3), ["E", "A"])
    assert not needs_more_draws(diag(), ["A"])  # only the ranked parameters count


def test_an_sbc_fit_that_needs_more_draws_is_sampled_again_with_four_times_as_many(prepared, monkeypatch):
    """Whatever its diagnostics say (the rule is tested above), a fit the rule picks is sampled again with
    MORE_DRAWS times the draws and twice the tuning, its ranks come from that run, and the result counts it. Both
    runs use SBC's own number of chains (two in a report), not the spec's four."""
    import bayes_scaling.validation.sbc as sbc_module

    calls = []
    real = sbc_module.run_nuts

    def recording(built, settings, **kwargs):
        result = real(built, settings, **kwargs)
        calls.append((result.posterior.sizes["chain"], result.posterior.sizes["draw"], settings.tune))
        return result

    monkeypatch.setattr(sbc_module, "run_nuts", recording)
    monkeypatch.setattr(sbc_module, "needs_more_draws", lambda diagnostics, names: True)
    assert prepared.spec.sampler.chains == 4
    result = sbc(prepared, 2, scheduler="serial", seed=3, draws=60, tune=100, chains=2)
    assert calls == [(2, 60, 100), (2, 60 * sbc_module.MORE_DRAWS, 200)] * 2
    assert result["extended"] == 2 and result["simulations"] == 2
    assert (result["chains"], result["draws"], result["tune"]) == (2, 60, 100)
    assert all(0 <= rank <= sbc_module.RANK_DRAWS for ranks in result["ranks"].values() for rank in ranks)


def test_the_chunks_of_one_sbc_in_one_process_compile_its_model_once_with_the_same_ranks(prepared, monkeypatch):
    """Serially every chunk runs in this process: the design's model is compiled once for all of them (a Dask worker
    likewise for its share), and the ranks are those of chunks that each compiled their own."""
    import bayes_scaling.validation.sbc as sbc_module

    compiles = []
    real = sbc_module.compile_model

    def counting(built):
        compiles.append(built.law.name)
        return real(built)

    monkeypatch.setattr(sbc_module, "compile_model", counting)
    sbc_module._COMPILED.clear()
    kwargs = {"seed": 5, "draws": 60, "tune": 60}
    shared = sbc(prepared, 3, scheduler="serial", workers=1, **kwargs)
    assert compiles == ["chinchilla"] and len(shared["task_seconds"]) == 3
    real_chunk = sbc_module._fit_chunk

    def fresh_chunk(task):
        sbc_module._COMPILED.clear()
        return real_chunk(task)

    monkeypatch.setattr(sbc_module, "_fit_chunk", fresh_chunk)
    separate = sbc(prepared, 3, scheduler="serial", workers=1, **kwargs)
    assert len(compiles) == 4 and separate["ranks"] == shared["ranks"]
