r"""Inference-aware sizing (as Sardana & Frankle 2024 set it up): the model size and token count that reach a target
loss with the least training plus inference compute, for a model that will serve ``I`` tokens over its life.

.. math::

    \min_{N, D}\; 6 N D + 2 N I \quad \text{subject to} \quad L(N, D) = T

per posterior draw: on a grid of N, the tokens D(N) that reach T (bisection in log D; none where the law's loss at
unlimited data stays above T), the total compute at each N, and its minimum. With I = 0 this is the compute-optimal
model for T; the more inference, the smaller and longer-trained the model. The law alone: the discrepancy is not
carried here, and the answer says so.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.result import FitResult

#: Decades of N below and above the compute-optimal size for the target, and grid points.
BELOW, ABOVE = 3.0, 1.0
POINTS = 161
#: Bisection in log D between these token counts, to this precision (natural log).
TOKENS = (1e6, 1e20)
STEPS = 60


def tokens_to_reach(fit: FitResult, n_params: np.ndarray, target: float) -> np.ndarray:
    """D at which the law reaches ``target`` for each posterior draw (rows) and size (columns of ``n_params``);
    NaN where even :data:`TOKENS`'s upper end does not."""
    law = fit.law
    if "n_params" not in law.inputs or not {"n_tokens", "compute"} & set(law.inputs):
        raise LawNotApplicable(f"{law.name}: inference-aware sizing needs a law of N and D (or of N and C)")
    params = {name: values[:, None] for name, values in fit.draws(law.parameters).items()}
    n = np.broadcast_to(np.asarray(n_params, dtype=float)[None, :], (fit.draws(law.parameters)[law.parameters[0]].size,
                                                                   len(n_params)))

    def loss(log_d: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return law.loss(**law.complete_inputs(n_params=n, n_tokens=np.exp(log_d)), **params)

    low, high = np.full(n.shape, np.log(TOKENS[0])), np.full(n.shape, np.log(TOKENS[1]))
    reachable = loss(high) <= target
    for _ in range(STEPS):
        middle = 0.5 * (low + high)
        below = loss(middle) <= target
        high, low = np.where(below, middle, high), np.where(below, low, middle)
    return np.where(reachable, np.exp(high), np.nan)


def inference_aware(fit: FitResult, target: float, inference_tokens: float) -> xr.Dataset:
    """Per draw (dims ``chain, draw``): ``n_params``, ``n_tokens``, ``training_compute`` (6ND), ``total_compute``
    (6ND + 2NI) of the cheapest way to reach ``target`` serving ``inference_tokens``, and ``compute_optimal_total``,
    the total of the compute-optimal model for the target serving the same tokens (NaN where T is unreachable)."""
    if inference_tokens < 0:
        raise ValueError(f"inference tokens must be at least 0, got {inference_tokens}")
    centre = float(fit.compute_for_loss(target)["n_params"].median(skipna=True))
    if not np.isfinite(centre):
        centre = float(fit.runs["n_params"].max())
    n = centre * np.logspace(-BELOW, ABOVE, POINTS)
    d = tokens_to_reach(fit, n, target)
    total = 6 * n[None, :] * d + 2 * n[None, :] * inference_tokens
    training = 6 * n[None, :] * d
    best = np.nanargmin(np.where(np.isfinite(total), total, np.inf), axis=1)
    rows = np.arange(total.shape[0])
    ok = np.isfinite(total[rows, best])
    chosen_n = np.where(ok, n[best], np.nan)
    optimal = np.nanargmin(np.where(np.isfinite(training), training, np.inf), axis=1)
    optimal_total = np.where(ok, training[rows, optimal] + 2 * n[optimal] * inference_tokens, np.nan)
    post = fit.posterior
    shape = (post.sizes["chain"], post.sizes["draw"])
    coords = {"chain": post["chain"].values, "draw": post["draw"].values}
    values = {"n_params": chosen_n, "n_tokens": np.where(ok, d[rows, best], np.nan),
              "training_compute": np.where(ok, training[rows, best], np.nan),
              "total_compute": np.where(ok, total[rows, best], np.nan), "compute_optimal_total": optimal_total}
    found = xr.Dataset({name: (("chain", "draw"), value.reshape(shape)) for name, value in values.items()},
                       coords=coords)
    found["tokens_per_param"] = found["n_tokens"] / found["n_params"]
    found["saving"] = 1 - found["total_compute"] / found["compute_optimal_total"]
    found.attrs.update(target_loss=target, inference_tokens=float(inference_tokens), at_grid_edge=bool(
        np.any(ok & ((best == 0) | (best == n.size - 1)))))
    return found
