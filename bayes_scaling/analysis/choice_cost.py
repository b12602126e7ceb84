r"""What a choice of model size costs at a budget: the excess loss over the best size, per posterior draw.

An interval on N_opt answers the planner's question badly: the IsoFLOP profile is flat near its minimum, so most
sizes inside a wide N_opt interval cost almost nothing, and the interval says nothing of the cost of a bad one. For a
budget C and a size N (D = C / 6N), per posterior draw,

.. math::

    \Delta(N; C) = \frac{L(N, C/6N)}{\min_{N'} L(N', C/6N')} - 1

with :math:`\log L = \log L_{law}(\theta) + \tilde\delta` along the IsoFLOP line: the law per draw; its discrepancy
GP drawn jointly along the line and smoothed to a quadratic in log N (:math:`\tilde\delta`, its least-squares
projection: the tilt and curvature that move and widen the optimum; the exponential kernel's draws are rough at
short range, and the minimum of a rough path would count that roughness as a cost of every size); and, beyond the
data, the profile moved along log N by the drift of N_opt learned across suites (:math:`\kappa\, d(C)` decades, as
:func:`~bayes_scaling.analysis.discrepancy_allocation.allocation_with_discrepancy` moves the vertex). The
extrapolation slope of the loss level is constant along an IsoFLOP line and cancels. Sizes whose excess stays below
a tolerance with a stated probability are the near-optimal range.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from bayes_scaling.analysis.discrepancy_allocation import isoflop_line
from bayes_scaling.result import FitResult
from bayes_scaling.uncertainty.distance import beyond
from bayes_scaling.util.defaults import DEFAULT_PROBABILITY, DEFAULT_TOLERANCE

#: Decades of N either side of the law's median N_opt, and grid points, of the profile.
HALF_WIDTH = 1.5
POINTS = 61


def excess_loss(fit: FitResult, compute: float, *, seed: int = 0, discrepancy: bool = True,
                half_width: float = HALF_WIDTH, points: int = POINTS, centre: float | None = None) -> xr.Dataset:
    """``relative`` (fraction of the best loss) and ``excess`` (nats) of each size on a log grid around ``centre``
    (by default the law's median N_opt at ``compute``; a caller that has it already passes it), dims ``chain, draw,
    n_params``; ``discrepancy`` draws the GP along the line and the N_opt drift beyond the data (else the law
    alone). Seeded per budget."""
    law = fit.law
    if centre is None:
        centre = float(fit.optimal_allocation(compute)["n_params"].median())
    n = centre * np.logspace(-half_width, half_width, points)
    inputs = isoflop_line(law, n, compute)
    log_loss = law.log_loss(fit.draws(law.parameters), inputs)
    if discrepancy:
        rng = np.random.default_rng([seed, 7, int(np.float64(compute).view(np.uint64))])
        log_loss = log_loss + smoothed(fit.discrepancy_draws(rng, joint=True, **inputs), np.log10(n))
        drift = fit.discrepancy.allocation_extrapolation
        distance = beyond({name: values[:1] for name, values in inputs.items()}, fit.discrepancy.drift_from)
        if drift is not None and distance[0] > 0:
            shift = drift.draws(rng, log_loss.shape[0], distance)[:, 0]  # decades the optimum moves, per draw
            log_loss = shifted(log_loss, np.log10(n), shift)
    loss = np.exp(log_loss)
    best = loss.min(axis=1, keepdims=True)
    post = fit.posterior
    shape = (post.sizes["chain"], post.sizes["draw"], n.size)
    coords = {"chain": post["chain"].values, "draw": post["draw"].values, "n_params": n}
    dims = ("chain", "draw", "n_params")
    return xr.Dataset({"relative": (dims, (loss / best - 1.0).reshape(shape)),
                       "excess": (dims, (loss - best).reshape(shape))}, coords=coords,
                      attrs={"compute": float(compute)})


def smoothed(draws: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each row of ``draws`` (draws x points at ``x``) replaced by its least-squares quadratic in ``x``: ``draws @ H``
    with the hat matrix :math:`H = V (V^T V)^{-1} V^T` of the basis :math:`V = [x^2, x, 1]` (centred), symmetric."""
    basis = np.vander(x - x.mean(), 3)
    hat = basis @ np.linalg.pinv(basis)
    return draws @ hat


def shifted(rows: np.ndarray, x: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Each row of ``rows`` (draws x points at the increasing ``x``) read at ``x - shift`` of its draw, linearly
    interpolated and held at the end values outside ``x`` (as :func:`numpy.interp`, for all rows at once)."""
    right, weight = _bracket(x, x[None, :] - shift[:, None])
    left_values = np.take_along_axis(rows, right - 1, axis=1)
    return left_values + weight * (np.take_along_axis(rows, right, axis=1) - left_values)


def _bracket(x: np.ndarray, at: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """For points ``at`` (clipped to the increasing grid ``x``): the index of the grid point to their right and their
    weight on it, so a value there is ``(1 - weight) * v[right - 1] + weight * v[right]``."""
    at = np.clip(at, x[0], x[-1])
    right = np.clip(np.searchsorted(x, at, side="right"), 1, x.size - 1)
    return right, (at - x[right - 1]) / (x[right] - x[right - 1])


def near_optimal(found: xr.Dataset, tolerance: float = DEFAULT_TOLERANCE,
                 probability: float = DEFAULT_PROBABILITY) -> dict[str, Any]:
    """The sizes whose relative excess loss is at most ``tolerance`` with probability at least ``probability``:
    ``lower`` and ``upper`` N (None if no size qualifies), and the tolerance in nats at the median best loss."""
    if not 0 < tolerance < 1 or not 0 < probability < 1:
        raise ValueError(f"tolerance and probability must be between 0 and 1, got {tolerance} and {probability}")
    chance = (found["relative"] <= tolerance).mean(("chain", "draw"))
    sizes = found["n_params"].values[chance.values >= probability]
    best = float((found["excess"] / found["relative"]).median()) if float(found["relative"].max()) > 0 else 0.0
    grid = found["n_params"].values
    edge = bool(sizes.size) and bool(sizes[0] == grid[0] or sizes[-1] == grid[-1])
    return {"tolerance": {"fraction": tolerance, "nats": tolerance * best}, "probability": probability,
            "n_params": {"lower": float(sizes[0]), "upper": float(sizes[-1])} if sizes.size else None,
            "at_grid_edge": edge}


def choice_cost(found: xr.Dataset, n_params: float, level: float = 0.9) -> dict[str, Any]:
    """The excess loss of training ``n_params`` at the budget: mean, median and central ``level`` interval, as a
    fraction of the best loss and in nats (interpolated in log N; None outside the grid)."""
    grid = np.log10(found["n_params"].values)
    x = np.log10(n_params)
    if not grid[0] <= x <= grid[-1]:
        return {"n_params": float(n_params), "relative": None, "excess": None}
    out: dict[str, Any] = {"n_params": float(n_params)}
    right, weight = _bracket(grid, x)
    for name in ("relative", "excess"):
        values = found[name].values.reshape(-1, grid.size)
        at = values[:, right - 1] + weight * (values[:, right] - values[:, right - 1])  # per draw, linear in log N
        low, median, high = np.quantile(at, [(1 - level) / 2, 0.5, (1 + level) / 2])
        out[name] = {"mean": float(at.mean()), "median": float(median), "lower": float(low), "upper": float(high),
                     "level": level}
    return out
