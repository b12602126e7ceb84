r"""Leave-future-out errors of the compute-optimal size: where the larger budgets' runs put N_opt, against the law.

For each held-out IsoFLOP budget of a suite fit (:mod:`bayes_scaling.validation.extrapolation_errors`) with at least
:data:`MIN_RUNS` runs and a minimum inside them, the empirical optimum is the vertex of a parabola in log N through
the runs' log losses (Hoffmann et al.'s approach 2), and the error is

.. math:: e = \log_{10} N^*_{emp}(C) - \operatorname{median} \log_{10} N_{opt}(C; \theta)

with variance the law's posterior variance of log10 N_opt plus the vertex's (delta method on the parabola's
least-squares coefficients). Fitted across suites like the loss errors
(:func:`~bayes_scaling.validation.extrapolation_learning.fit_cross_suite`), it gives the drift of the allocation
exponent with compute beyond the data: a slope in decades of N per decade of compute.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayes_scaling.result import FitResult
from bayes_scaling.uncertainty.distance import beyond
from bayes_scaling.validation.extrapolation_errors import Task, heldout_frame, run_inputs_scale

#: Fewest runs of a held-out budget whose parabola is fitted.
MIN_RUNS = 5


def vertex_and_variance(log_n: np.ndarray, log_loss: np.ndarray) -> tuple[float, float]:
    """The vertex of the least-squares parabola of log loss in ln N (as ln N) and its delta-method variance; NaN if
    the parabola has no minimum inside the runs or too few runs to estimate its noise."""
    if log_n.size < MIN_RUNS or np.ptp(log_n) == 0:
        return np.nan, np.nan
    design = np.column_stack([log_n**2, log_n, np.ones_like(log_n)])
    coef, *_ = np.linalg.lstsq(design, log_loss, rcond=None)
    curvature, slope = coef[0], coef[1]
    if curvature <= 0:
        return np.nan, np.nan
    vertex = -slope / (2 * curvature)
    if not log_n.min() < vertex < log_n.max():
        return np.nan, np.nan
    noise = float(np.sum((log_loss - design @ coef) ** 2) / max(log_n.size - 3, 1))
    cov = noise * np.linalg.inv(design.T @ design)
    gradient = np.array([slope / (2 * curvature**2), -1 / (2 * curvature), 0.0])
    return float(vertex), float(gradient @ cov @ gradient)


def allocation_errors_of(fit: FitResult, task: Task) -> dict[str, Any]:
    """Errors of the fit's N_opt at the held-out budgets of a task (see the module docstring), as lists."""
    held = heldout_frame(task)
    out: dict[str, list] = {"error": [], "variance": [], "distance": [], "budget": [], "compute": []}
    try:
        fit.optimal_allocation(1e20)
    except Exception:
        return {"suite": task.suite, "law": task.law, "cut": task.cut, "converged": bool(fit.converged), **out}
    seen = run_inputs_scale(fit)
    for label in np.unique(held["budget_label"]):
        runs = held[held["budget_label"] == label]
        vertex, variance = vertex_and_variance(np.log(runs["n_params"].to_numpy(dtype=float)),
                                               np.log(runs["loss"].to_numpy(dtype=float)))
        if not np.isfinite(vertex):
            continue
        compute = float(np.median(runs["compute"]))
        law_n = np.log10(np.asarray(fit.optimal_allocation(compute)["n_params"]).ravel())
        point = {"compute": np.array([compute])} if "compute" in fit.law.inputs else {
            "n_params": np.array([1.0]), "n_tokens": np.array([compute / 6.0])}
        out["error"].append(vertex / np.log(10) - float(np.median(law_n)))
        out["variance"].append(float(np.var(law_n)) + variance / np.log(10) ** 2)
        out["distance"].append(float(beyond(point, seen)[0]))
        out["budget"].append(int(label))
        out["compute"].append(compute)
    return {"suite": task.suite, "law": task.law, "cut": task.cut, "converged": bool(fit.converged), **out}
