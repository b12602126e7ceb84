"""Running independent tasks (backtest splits, chunks of SBC simulations) serially or on Dask distributed.

Every task carries its own seeds, so results do not depend on where or in which order tasks run: a serial run and
a run on any cluster give the same numbers. ``scheduler`` is ``"serial"``, ``"local"`` (a LocalCluster of
``workers`` single-threaded processes, created and closed here) or the address of an existing scheduler.
:func:`shared_scheduler` lets several runs share one LocalCluster (a report's calibrations, one after another).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bayes_scaling.util.garbage import collect_less_often

log = logging.getLogger(__name__)

#: Seconds to wait for an existing scheduler before refusing its address.
CONNECT_SECONDS = 10


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """While inside, SIGTERM (``timeout``, a job scheduler) raises SystemExit, so that ``finally`` blocks close the
    LocalCluster's worker processes instead of leaving them (and their semaphores) behind. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _local_cluster(workers: int):
    """A LocalCluster of ``workers`` single-threaded processes, its dashboard on a free loopback port (None still
    tries 8787 and warns when another cluster holds it), collecting garbage as the command's own process does
    (:mod:`~bayes_scaling.util.garbage`)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0")
    with Client(cluster) as client:  # the workers are this package's own processes (not a user's scheduler's)
        client.run(collect_less_often)
    return cluster


@contextlib.contextmanager
def shared_scheduler(scheduler: str, workers: int = 2) -> Iterator[Callable[[], str]]:
    """Inside the block, ``scheduler_for()`` names the scheduler to give :func:`run_tasks`: for ``"local"``, the
    address of one LocalCluster of ``workers`` single-threaded processes, started on the first call and closed when
    the block ends; any other scheduler as it is. A report's calibrations ran one LocalCluster each, and each
    cluster's workers imported the package and compiled their models again (about 5 CPU s a cluster); sharing one
    keeps the workers, their imports and their compiled models (keyed by everything they depend on, so a worker
    never reuses another analysis's model). Nothing is started if ``scheduler_for`` is never called."""
    if scheduler != "local":
        yield lambda: scheduler
        return
    cluster = None

    def scheduler_for() -> str:
        nonlocal cluster
        if cluster is None:
            cluster = _local_cluster(workers)
            log.info("started a LocalCluster of %d workers at %s, shared by the runs that follow", workers,
                     cluster.scheduler_address)
        return cluster.scheduler_address

    with _sigterm_as_exit():
        try:
            yield scheduler_for
        finally:
            if cluster is not None:
                cluster.close()


def run_tasks(func: Callable[[Any], Any], tasks: Sequence[Any], *, scheduler: str = "serial", workers: int = 2,
              progress: Callable[[int, int], None] | None = None) -> tuple[list[Any], float]:
    """``[func(task) for task in tasks]`` in task order, and the wall-clock seconds it took."""
    start = time.perf_counter()
    if scheduler == "serial":
        results = []
        for i, task in enumerate(tasks):
            results.append(func(task))
            if progress:
                progress(i + 1, len(tasks))
        return results, time.perf_counter() - start
    with _sigterm_as_exit():
        return _run_on_dask(func, tasks, scheduler, workers, progress, start)


def _run_on_dask(func, tasks, scheduler: str, workers: int, progress, start: float) -> tuple[list[Any], float]:
    from distributed import Client, as_completed

    cluster = None
    if scheduler == "local":
        cluster = _local_cluster(workers)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError) as err:
            raise ValueError(f"cannot reach a Dask scheduler at {scheduler!r} ({err}); give 'local', 'serial' or "
                             "the address of a running scheduler, such as tcp://host:8786") from None
    try:
        log.info("running %d tasks on %s", len(tasks), client)
        futures = client.map(func, list(tasks), pure=False)
        order = {future.key: i for i, future in enumerate(futures)}
        results: list[Any] = [None] * len(tasks)
        for done, future in enumerate(as_completed(futures), 1):
            results[order[future.key]] = future.result()
            if progress:
                progress(done, len(tasks))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results, time.perf_counter() - start
