r"""Which law to trust: Bayesian stacking of laws fitted to the same runs, weighted by leave-future-out scores.

Each fit has already refitted its law without its top 10, 20 and 30% of compute (the drift's refits,
:mod:`~bayes_scaling.uncertainty.drift`) and stored, per held-out run, the error of the refit's median and its
predictive variance there (law, noise spread, discrepancy amplitude). A held-out run :math:`i` is scored by the first
refit that held it out (the one that extrapolated least to reach it), with the Gaussian predictive density
:math:`p_k(y_i) = \mathcal N(e_{ki}; 0, v_{ki})` of law :math:`k`. Only runs every fit held out are scored. The
stacking weights (Yao et al. 2018) maximise the leave-future-out log score of the mixture,

.. math:: \hat w = \arg\max_{w \in \Delta} \sum_i \log \sum_k w_k \, p_k(y_i) + \epsilon \sum_k \log w_k,

which measures extrapolation to larger budgets, not interpolation (PSIS-LOO would); the faint :math:`\epsilon` term
only splits ties. The stacked answer at a budget is
the mixture of each law's predictive draws in these proportions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax

from bayes_scaling.analysis.discrepancy_allocation import allocation_with_discrepancy
from bayes_scaling.analysis.planning import summary
from bayes_scaling.result import FitResult
from bayes_scaling.uncertainty.extrapolation import OwnErrors

#: Fewest held-out runs, common to every fit, that weights are learned from.
MIN_POINTS = 5
#: A Dirichlet(1 + TIE) prior on the weights: negligible against any difference of the laws' scores, it splits the
#: weight evenly between laws that predict the held-out runs alike (where the mixture's score is flat in w).
TIE = 1e-3


@dataclass(frozen=True)
class Stacking:
    """Stacking weights of ``names`` (one per fit), learned from ``points`` held-out runs in ``budgets`` budgets;
    ``log_scores`` each law's own mean leave-future-out log density over them."""

    names: tuple[str, ...]
    weights: np.ndarray
    points: int
    budgets: int
    log_scores: np.ndarray

    def describe(self) -> str:
        parts = ", ".join(f"{name} {weight:.2f}" for name, weight in zip(self.names, self.weights, strict=True))
        return (f"stacking weights {parts} (leave-future-out log scores of {self.points} held-out runs in "
                f"{self.budgets} budgets, each scored by the first of its fit's refits without the top compute that "
                "held it out)")


def first_held_out(own: OwnErrors) -> dict[float, tuple[float, float, float]]:
    """Per held-out row: (error, variance, budget label) from the first refit (smallest held-out share) holding it."""
    found: dict[float, tuple[float, float, float]] = {}
    for index in np.argsort(own.refits, kind="stable"):
        row = float(own.rows[index])
        if row not in found:
            found[row] = (float(own.errors[index]), float(own.variances[index]), float(own.budgets[index]))
    return found


def pointwise_log_scores(fits: Sequence[FitResult]) -> tuple[np.ndarray, int]:
    """(fits, runs) log predictive densities of the held-out runs every fit scored, and their number of budgets."""
    held = []
    for fit in fits:
        own = fit.discrepancy.drift_own
        errors = OwnErrors.from_dict(own) if own is not None else OwnErrors.empty()
        if errors.rows.size == 0:
            raise ValueError(f"{fit.name}: the fit stores no leave-future-out scores of held-out runs (made before "
                             "they were stored, or too few runs to refit); refit it with this version")
        held.append(first_held_out(errors))
    common = sorted(set.intersection(*(set(found) for found in held)))
    if len(common) < MIN_POINTS:
        raise ValueError(f"the fits have {len(common)} held-out runs in common (at least {MIN_POINTS} needed): "
                         "stack fits of the same runs")
    scores = np.array([[-0.5 * (np.log(2 * np.pi * found[row][1]) + found[row][0] ** 2 / found[row][1])
                        for row in common] for found in held])
    budgets = len({held[0][row][2] for row in common})
    return scores, budgets


def stacking_weights(log_scores: np.ndarray) -> np.ndarray:
    """Weights on the simplex maximising the mixture's summed log score (``log_scores``: fits x points), with the
    faint :data:`TIE` prior."""
    k = log_scores.shape[0]
    if k == 1:
        return np.ones(1)

    def negative(free: np.ndarray) -> float:
        log_weights = np.log(np.maximum(softmax(np.concatenate([[0.0], free])), 1e-300))
        return -float(np.sum(logsumexp(log_scores + log_weights[:, None], axis=0)) + TIE * np.sum(log_weights))

    best = min((minimize(negative, start, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10,
                                                                          "maxiter": 4000})
                for start in (np.zeros(k - 1), *np.eye(k - 1) * 3.0, *-np.eye(k - 1) * 3.0)),
               key=lambda result: result.fun)
    return softmax(np.concatenate([[0.0], best.x]))


def stack(fits: Sequence[FitResult]) -> Stacking:
    """Stacking weights of fits of the same runs (see the module docstring)."""
    if len({fit.name for fit in fits}) != len(fits):
        raise ValueError("give each fit once")
    scores, budgets = pointwise_log_scores(fits)
    return Stacking(tuple(fit.name for fit in fits), stacking_weights(scores), scores.shape[1], budgets,
                    scores.mean(axis=1))


#: What the stacked answer gives at a budget: (name, label, unit).
QUANTITIES = (("n_params", "N_opt", "parameters"), ("n_tokens", "D_opt", "tokens"), ("loss", "loss", "nats/token"))
#: Draws of the stacked mixture.
MIXTURE_DRAWS = 8000


def stacked_allocation(fits: Sequence[FitResult], compute: float, *, level: float = 0.9, seed: int = 0) -> dict:
    """Weights (:func:`stack`), each law's N_opt, D_opt and loss at ``compute`` (law, discrepancy along the IsoFLOP
    line and extrapolation, as ``plan``) and the stacked mixture of their draws in the weights' proportions."""
    found = stack(fits)
    rng = np.random.default_rng(seed)
    per_law, rows = {}, []
    for fit in fits:
        alloc = allocation_with_discrepancy(fit, [compute], seed=seed).isel(compute=0)
        joint = np.column_stack([alloc[name].to_numpy().ravel() for name, *_ in QUANTITIES])
        rows.append(joint[np.all(np.isfinite(joint), axis=1)])
        per_law[fit.name] = {name: summary(alloc[name], level) for name, *_ in QUANTITIES}
        per_law[fit.name]["law"] = fit.law.name
        per_law[fit.name]["converged"] = fit.converged
    which = rng.choice(len(fits), size=MIXTURE_DRAWS, p=found.weights / found.weights.sum())
    mixed = np.array([rows[k][rng.integers(rows[k].shape[0])] for k in which])
    stacked = {name: summary(xr.DataArray(mixed[None, :, j], dims=("chain", "draw")), level)
               for j, (name, *_) in enumerate(QUANTITIES)}
    return {
        "compute": compute, "level": level,
        "weights": dict(zip(found.names, [float(w) for w in found.weights], strict=True)),
        "mean_log_score": dict(zip(found.names, [float(s) for s in found.log_scores], strict=True)),
        "held_out_runs": found.points, "held_out_budgets": found.budgets,
        "how": found.describe(),
        "converged": all(fit.converged for fit in fits),
        "laws": per_law, "stacked": stacked,
        "includes": "each law with its discrepancy along the IsoFLOP line and its extrapolation beyond the data, "
                    "without run-to-run noise; stacked: the mixture of the laws' draws in the weights' proportions",
    }
