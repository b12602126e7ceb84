"""BLAS on one thread, so that linear algebra gives the same bits in any process.

OpenBLAS splits its work by its thread count, and Dask's workers start with one thread where a plain process has one
per core; a Cholesky factor or a least-squares fit then differs in its last bits between a serial run and the
same run on a LocalCluster. The matrices here are small (runs x runs), so one thread costs nothing measurable.
"""

from __future__ import annotations

import contextlib
import functools

import scipy.linalg  # noqa: F401  (scipy's OpenBLAS is loaded before the controller lists the libraries)
from threadpoolctl import ThreadpoolController


@functools.cache
def _controller():
    """The BLAS libraries loaded in this process, found once (``threadpool_limits`` searches them on every call:
    2.3 ms against 0.03 ms, and a report page enters the block about 150 times); numpy's and scipy's OpenBLAS
    are both loaded by then (this module imports scipy.linalg)."""
    return ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread():
    """Within the block, BLAS and LAPACK use a single thread."""
    with _controller().limit(limits=1, user_api="blas"):
        yield


def with_one_blas_thread(function):
    """Decorator: run ``function`` under :func:`one_blas_thread`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return function(*args, **kwargs)

    return wrapper
