r"""Compute-optimal allocation that allows for the law's discrepancy.

The law's own N_opt(C) minimises :math:`L_{law}` along the IsoFLOP line (:math:`D = C / 6N` for a law of N and D; the
budget C itself for the IsoFLOP law of N and C). Away from the runs the
law can be wrong in ways its parameters do not capture (the discrepancy :math:`\delta` of
:mod:`~bayes_scaling.uncertainty.discrepancy`), and an
error that tilts along the line moves the optimum. For each posterior
draw, :math:`\delta` is drawn jointly on a grid of N across the line (``half_width`` decades either side of the
law's median N_opt) and the optimum is the vertex of the parabola in log N through the sum, the estimate an
IsoFLOP experiment at that budget would make, without its noise:

.. math::

    N_{opt}^{\delta}(C) = \operatorname{vertex}_{\log N}\big[\log L_{law}(N, C/6N; \theta) + \delta(N, C/6N)\big]

Beyond the data's largest compute the vertex also moves by the drift of log10 N_opt learned across suites
(:func:`~bayes_scaling.uncertainty.extrapolation.allocation_model`): :math:`N_{opt} \cdot 10^{\kappa d(C)}`, with
:math:`\kappa` a slope per draw (decades of N per decade of compute, the allocation exponent's change beyond the
data) and :math:`d(C)` the decades beyond.

``bayes-scaling calibrate`` scores the same construction, with noise added, on the IsoFLOP budgets it holds out:
on Epoch AI's runs the law's own 90% N_opt intervals held 1 of 8 held-out budgets' empirical optima, these 8 of 8.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xarray as xr

from bayes_scaling.derived import parabola_minima, query
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.result import FitResult
from bayes_scaling.uncertainty.distance import beyond

#: Decades of N either side of the law's median N_opt, and grid points, of the IsoFLOP profile.
HALF_WIDTH = 1.0
POINTS = 21


def isoflop_line(law, n_params: np.ndarray, compute: float) -> dict[str, np.ndarray]:
    """The law's inputs along the IsoFLOP line of ``compute`` at sizes ``n_params``: D = C / 6N for a law of N and D,
    the budget itself for a law of N and C (the IsoFLOP law)."""
    if set(law.inputs) == {"n_params", "n_tokens"}:
        return {"n_params": n_params, "n_tokens": compute / (6 * n_params)}
    if set(law.inputs) == {"n_params", "compute"}:
        return {"n_params": n_params, "compute": np.full(n_params.shape, float(compute))}
    raise LawNotApplicable(f"{law.name}: the discrepancy-aware allocation needs a law of N and D, or of N and C")


def allocation_with_discrepancy(fit: FitResult, compute: float | Iterable[float], *, seed: int = 0,
                                half_width: float = HALF_WIDTH, points: int = POINTS) -> xr.Dataset:
    """``n_params``, ``n_tokens``, ``tokens_per_param`` and ``loss`` (dims ``chain, draw, compute``) at the vertex
    of each draw's IsoFLOP profile of law plus discrepancy (the loss of that profile there, without run-to-run
    noise); NaN where a draw's profile has no minimum. Seeded per budget, so a budget's numbers do not depend on the
    others asked for."""
    law = fit.law
    isoflop_line(law, np.ones(1), 1.0)  # refuses a law without an IsoFLOP line before any work
    budgets = query(compute, "compute")
    centres = fit.optimal_allocation(budgets.values)["n_params"].median(("chain", "draw")).values
    params = fit.draws(law.parameters)
    columns, minima = [], []
    for budget, centre in zip(budgets.values, centres, strict=True):
        rng = np.random.default_rng([seed, 5, int(np.float64(budget).view(np.uint64))])  # per budget, any order
        n = centre * np.logspace(-half_width, half_width, points)
        inputs = isoflop_line(law, n, budget)
        profile = law.log_loss(params, inputs) + fit.discrepancy_draws(rng, joint=True, **inputs)
        vertex, lowest = parabola_minima(np.log(n), profile.T)
        drift = fit.discrepancy.allocation_extrapolation
        if drift is not None:  # the allocation exponent's drift beyond the data, learned across suites
            distance = beyond({name: values[:1] for name, values in inputs.items()}, fit.discrepancy.drift_from)
            vertex = vertex * 10.0 ** drift.draws(rng, vertex.size, distance)[:, 0]
        columns.append(vertex)
        minima.append(lowest)
    post = fit.posterior
    shape = (post.sizes["chain"], post.sizes["draw"], budgets.size)
    dims, coords = ("chain", "draw", "compute"), {"chain": post["chain"].values, "draw": post["draw"].values,
                                                  "compute": budgets.values}
    n_opt = xr.DataArray(np.stack(columns, axis=-1).reshape(shape), dims=dims, coords=coords)
    loss = xr.DataArray(np.exp(np.stack(minima, axis=-1).reshape(shape)), dims=dims, coords=coords)
    n_tokens = n_opt["compute"] / (6 * n_opt)
    return xr.Dataset({"n_params": n_opt, "n_tokens": n_tokens, "tokens_per_param": n_tokens / n_opt, "loss": loss})
