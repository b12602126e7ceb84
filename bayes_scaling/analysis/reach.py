r"""Reaching a loss with a probability: the smallest compute at which the compute-optimal model's loss is at most a
target with a stated probability.

.. math::

    C_p(T) = \min \{ C : P(L_{opt}(C) \le T) \ge p \}

with :math:`L_{opt}(C)` the loss at the compute-optimal size. Through the whole predictive (law, discrepancy along
the IsoFLOP line and the extrapolation error beyond the data, :func:`~bayes_scaling.analysis.discrepancy_allocation.
allocation_with_discrepancy`) :math:`P(L_{opt}(C) \le T)` is found per budget, and :math:`C_p` by climbing log C
from the data's smallest compute and bisecting the step that crosses :math:`p`. A draw whose profile has no
minimum counts as not reaching the target, and the extrapolation error grows with the distance, so far beyond the
data P can fall again: the first crossing is the answer, and a target no budget reaches with :math:`p` says the
highest probability any reached and where. For the law alone it is the
:math:`p`-quantile of the compute each draw needs (:meth:`~bayes_scaling.result.FitResult.compute_for_loss`; a draw
whose floor is above the target needs infinite compute).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayes_scaling.analysis.discrepancy_allocation import allocation_with_discrepancy
from bayes_scaling.result import FitResult

#: The scan starts at the data's smallest compute and climbs by STEP decades up to HIGHEST FLOP; the step that
#: crosses the probability is bisected to PRECISION decades.
HIGHEST = 1e30
STEP = 0.25
PRECISION = 0.005


def chance_at(fit: FitResult, compute: float, target: float, *, discrepancy: bool = True) -> float:
    """P(loss of the compute-optimal model at ``compute`` <= ``target``) over the posterior (and the discrepancy)."""
    if discrepancy:
        loss = allocation_with_discrepancy(fit, [compute])["loss"].values.ravel()
    else:
        loss = fit.optimal_allocation(compute)["loss"].values.ravel()
    return float(np.mean(np.nan_to_num(loss, nan=np.inf) <= target))


def compute_to_reach(fit: FitResult, target: float, probability: float, *, discrepancy: bool = True
                     ) -> dict[str, Any]:
    """The smallest compute (FLOP) at which the compute-optimal loss is at most ``target`` with ``probability``,
    with the median N_opt and D_opt there: ``{"compute", "n_params", "n_tokens", "probability", "reachable"}``;
    where no budget up to :data:`HIGHEST` FLOP reaches it with that probability, ``compute`` is None and
    ``highest_probability`` and ``at_compute`` say how close it came."""
    if not 0 < probability < 1:
        raise ValueError(f"probability must be between 0 and 1, got {probability}")
    unreachable = {"compute": None, "n_params": None, "n_tokens": None, "probability": probability,
                   "reachable": False}
    if discrepancy:
        low = float(np.log10(fit.runs["compute"].min()))
        best = (chance_at(fit, 10**low, target), low)
        high = low
        while best[0] < probability and chance_at(fit, 10**high, target) < probability:
            best = max(best, (chance_at(fit, 10**high, target), high))
            low, high = high, high + STEP
            if high > np.log10(HIGHEST):  # far out, draws without a minimum make P fall again: say where it peaked
                return {**unreachable, "highest_probability": best[0], "at_compute": float(10 ** best[1])}
        while high - low > PRECISION:  # bisect the step that crossed
            middle = 0.5 * (low + high)
            low, high = (low, middle) if chance_at(fit, 10**middle, target) >= probability else (middle, high)
        compute = float(10**high)
        found = allocation_with_discrepancy(fit, [compute])
    else:
        needed = np.sort(np.nan_to_num(fit.compute_for_loss(target)["compute"].values.ravel(), nan=np.inf))
        index = int(np.ceil(probability * needed.size)) - 1
        if not np.isfinite(needed[index]):
            return {**unreachable, "highest_probability": float(np.isfinite(needed).mean()), "at_compute": None}
        compute = float(needed[index])
        found = fit.optimal_allocation(compute)
    return {"compute": compute, "n_params": float(found["n_params"].median(skipna=True)),
            "n_tokens": float(found["n_tokens"].median(skipna=True)), "probability": probability, "reachable": True}
