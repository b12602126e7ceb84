"""Quantities people decide with, computed from every posterior draw (never from a point estimate).

Each function takes a law and its parameters as xarray DataArrays with ``chain, draw`` dims and returns xarray
objects that keep those dims, with one extra dim per query (``compute``, ``n_params``, ``target_loss``, ``model``),
ready for ``.quantile()`` or ArviZ. Allocations assume C = 6 N D.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from bayes_scaling.laws import Law
from bayes_scaling.util.blas import with_one_blas_thread

#: Bisection bracket in FLOP for inverting monotone functions of compute (1e10 .. 1e40 FLOP).
LOG_COMPUTE_BRACKET = (np.log(1e10), np.log(1e40))
BISECTION_STEPS = 80


def query(values: float | Iterable[float], dim: str) -> xr.DataArray:
    """A 1-d DataArray over ``dim`` holding the queried values (also used as its coordinate)."""
    array = np.atleast_1d(np.asarray(values, dtype=float))
    if array.ndim != 1 or not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(f"{dim} must be positive finite numbers, got {values!r}")
    return xr.DataArray(array, dims=dim, coords={dim: array})


def predict_loss(law: Law, params: Mapping[str, Any], **inputs: Any) -> xr.DataArray:
    """The law's loss at the given inputs, e.g. ``n_params=70e9, n_tokens=1.4e12`` (paired, dim ``point``).

    Scalars give a DataArray with only ``chain, draw``; equal-length sequences are paired along ``point``.
    """
    names = [name for name in ("n_params", "n_tokens", "compute") if inputs.get(name) is not None]
    arrays = {name: np.asarray(inputs[name], dtype=float) for name in names}
    if all(a.ndim == 0 for a in arrays.values()):
        grid = {name: float(a) for name, a in arrays.items()}
    else:
        arrays = {name: np.atleast_1d(a) for name, a in arrays.items()}
        length = {len(a) for a in arrays.values()}
        if len(length) != 1:
            raise ValueError(f"inputs must have equal lengths, got { {k: len(v) for k, v in arrays.items()} }")
        grid = {name: xr.DataArray(a, dims="point") for name, a in arrays.items()}
    return law.loss_at(**grid, **params).rename("loss")


def allocation_exponents(law: Law, params: Mapping[str, Any]) -> xr.Dataset:
    """Exponents ``a`` (N_opt ∝ C^a) and ``b`` (D_opt ∝ C^b) per draw."""
    return xr.Dataset(law.allocation_exponents(**params))


def optimal_allocation(law: Law, params: Mapping[str, Any], compute: float | Iterable[float]) -> xr.Dataset:
    """Compute-optimal ``n_params``, ``n_tokens``, ``tokens_per_param`` and ``loss`` for budgets (dim ``compute``)."""
    budget = query(compute, "compute")
    alloc = law.optimal_allocation(budget, **params)
    loss = law.loss_at(n_params=alloc["n_params"], n_tokens=alloc["n_tokens"], **params)
    return xr.Dataset(
        {
            "n_params": alloc["n_params"],
            "n_tokens": alloc["n_tokens"],
            "tokens_per_param": alloc["n_tokens"] / alloc["n_params"],
            "loss": loss,
        }
    )


def _bisect_log_compute(law: Law, params: Mapping[str, Any], target: xr.DataArray, key: str) -> xr.DataArray:
    """log C where ``optimal_allocation(C)[key]`` (or the optimal loss) crosses ``target``; NaN if out of range.

    ``key`` is ``n_params`` (increasing in C) or ``loss`` (decreasing in C). Vectorised in numpy over all draws
    and targets (the law's functions run on plain arrays): 80 halvings of a 30-decade bracket.
    """
    sign = 1.0 if key == "n_params" else -1.0
    names = list(params)
    grid = xr.broadcast(*(params[name] for name in names), target)
    dims, coords = grid[-1].dims, grid[-1].coords
    arrays = {name: g.values for name, g in zip(names, grid, strict=False)}
    goal = grid[-1].values
    low = np.full(goal.shape, LOG_COMPUTE_BRACKET[0])
    high = np.full(goal.shape, LOG_COMPUTE_BRACKET[1])

    def value(log_c: np.ndarray) -> np.ndarray:
        alloc = law.optimal_allocation(np.exp(log_c), **arrays)
        if key == "n_params":
            return alloc["n_params"]
        return law.loss_at(n_params=alloc["n_params"], n_tokens=alloc["n_tokens"], **arrays)

    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (low + high)
            above = sign * (value(mid) - goal) > 0
            high = np.where(above, mid, high)
            low = np.where(above, low, mid)
    root = 0.5 * (low + high)
    hit_edge = (root - LOG_COMPUTE_BRACKET[0] < 1e-6) | (LOG_COMPUTE_BRACKET[1] - root < 1e-6)
    return xr.DataArray(np.where(hit_edge, np.nan, root), dims=dims, coords=coords)


def optimal_for_params(law: Law, params: Mapping[str, Any], n_params: float | Iterable[float]) -> xr.Dataset:
    """The budget for which ``n_params`` is compute-optimal, its tokens and loss (Hoffmann's Table 3 rows).

    Found by inverting N_opt(C) per draw, so it works for any law with an allocation.
    """
    size = query(n_params, "n_params")
    compute = np.exp(_bisect_log_compute(law, params, size, "n_params"))
    tokens = compute / (6.0 * size)
    return xr.Dataset(
        {
            "compute": compute,
            "n_tokens": tokens,
            "tokens_per_param": tokens / size,
            "loss": law.loss_at(n_params=size, n_tokens=tokens, **params),
        }
    )


def compute_for_loss(law: Law, params: Mapping[str, Any], target_loss: float | Iterable[float]) -> xr.Dataset:
    """Smallest compute reaching ``target_loss`` on the compute-optimal path, with its N and D (dim ``target_loss``).

    Draws in which the target is at or below the law's floor (unreachable at any compute below 1e40 FLOP) give
    NaN; ``reachable`` is True where the target is reached, so ``reachable.mean()`` is its probability.
    """
    target = query(target_loss, "target_loss")
    compute = np.exp(_bisect_log_compute(law, params, target, "loss"))
    alloc = law.optimal_allocation(compute, **params)
    return xr.Dataset(
        {
            "compute": compute,
            "n_params": alloc["n_params"],
            "n_tokens": alloc["n_tokens"],
            "reachable": compute.notnull(),
        }
    )


def named_model_losses(law: Law, params: Mapping[str, Any], models: Mapping[str, tuple[float, float]]) -> xr.DataArray:
    """Predicted loss of named models given as ``{name: (n_params, n_tokens)}`` (dim ``model``)."""
    names = list(models)
    n = xr.DataArray([models[m][0] for m in names], dims="model", coords={"model": names})
    d = xr.DataArray([models[m][1] for m in names], dims="model", coords={"model": names})
    return law.loss_at(n_params=n, n_tokens=d, **params).rename("loss")


def interval(values: xr.DataArray, level: float = 0.9, dims: tuple[str, ...] = ("chain", "draw")) -> xr.Dataset:
    """Median and central ``level`` interval over the sample dims (NaN draws ignored)."""
    if not 0 < level < 1:
        raise ValueError(f"interval level must be in (0, 1), got {level}")
    if set(values.dims) == set(dims):  # one number per draw: NumPy's quantiles as ArviZ's eti takes them, without
        flat = values.values.reshape(-1)  # its xarray round trip (about 5 ms a call; a plan asks hundreds)
        lower, upper = np.nanquantile(flat, [(1 - level) / 2, (1 + level) / 2], method="linear")
        return xr.Dataset({"lower": lower, "median": np.nanmedian(flat), "upper": upper})
    # ArviZ's equal-tailed interval (``eti``) is these quantiles, to the bit; xarray's own spares importing
    # arviz_stats (and scipy.stats) in the commands that only answer questions
    bounds = values.quantile([(1 - level) / 2, (1 + level) / 2], dim=list(dims), skipna=True, method="linear")
    return xr.Dataset(
        {"lower": bounds.isel(quantile=0, drop=True), "median": values.median(dim=list(dims), skipna=True),
         "upper": bounds.isel(quantile=1, drop=True)}
    )


@with_one_blas_thread
def parabola_minima(log_n: np.ndarray, log_loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """N at the vertex of the parabola in log N least-squares fitted to log loss (to each column of a 2-d
    ``log_loss``: points x profiles), as in Hoffmann et al.'s IsoFLOP analysis, and the parabola's log loss there;
    NaN where it has no minimum."""
    curvature, slope, intercept = np.polyfit(log_n, log_loss, 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        vertex = np.where(curvature > 0, -slope / (2 * curvature), np.nan)
        return np.exp(vertex), intercept - curvature * vertex**2


def parabola_vertices(log_n: np.ndarray, log_loss: np.ndarray) -> np.ndarray:
    """N at the vertex of the parabola (:func:`parabola_minima`); NaN where it has no minimum."""
    return parabola_minima(log_n, log_loss)[0]
