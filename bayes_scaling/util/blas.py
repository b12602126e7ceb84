"""BLAS on one thread, so that linear algebra gives the same bits in any process.

OpenBLAS splits its work by its thread count, and Dask's workers start with one thread where a plain process has one
per core; a Cholesky factor or a least-squares fit then differs in its last bits between a serial run and the
same run on a LocalCluster. The matrices here are small (runs x runs), so one thread costs nothing measurable.
"""

from __future__ import annotations

import contextlib
import functools


@contextlib.contextmanager
def one_blas_thread():
    """Within the block, BLAS and LAPACK use a single thread."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def with_one_blas_thread(function):
    """Decorator: run ``function`` under :func:`one_blas_thread`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return function(*args, **kwargs)

    return wrapper
