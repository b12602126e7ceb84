r"""Which runs to train next: a set of (N, D) runs within an experiment budget that most narrows a decision at a
target budget.

A linearised (Laplace) preposterior calculation, per posterior draw. With :math:`\phi` the law's parameters on an
unbounded scale (the log of each parameter whose draws are all positive), :math:`\Sigma` their posterior covariance,
:math:`J(x) = \partial \log L(x; \phi) / \partial \phi` at a planned run :math:`x = (N, D)` and :math:`I` the
information one run carries about its log loss (:meth:`~bayes_scaling.likelihoods.Likelihood.location_information`),
training the runs :math:`x_1 \dots x_m` would leave

.. math::

    \Sigma' = \Big(\Sigma^{-1} + I \sum_i J(x_i) J(x_i)^\top\Big)^{-1}, \qquad
    \operatorname{Var}'[q] \approx g^\top \Sigma' g, \quad g = \partial q / \partial \phi

for the decision quantity :math:`q` (``n_opt``: :math:`\log_{10} N_{opt}(C)`; ``loss``: the log of the
compute-optimal loss at C). :math:`J`, :math:`g` and :math:`I` are taken at each of a few hundred posterior draws, so
the predicted narrowing comes with its own spread. Runs are added greedily, each the candidate whose reduction of the
mean variance over draws is largest per FLOP (and, separately, largest outright; the better of the two designs is
kept), one Sherman-Morrison update per draw and step, until the budget is spent. Candidates lie on a grid of budgets
(every quarter decade from the data's smallest budget to the experiment budget) and sizes (``window`` decades either
side of the posterior median N_opt at that budget). The approximation is validated against simulated outcomes and
refits in ``benchmarks/bench_suggest.py``.

The calculation is about the law's parameters: it treats the law as right. It does not model the law's misfit, so it
does not credit runs for revealing it; keep ``window`` to sizes whose profiles the law is known to describe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bayes_scaling.laws import Law
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.result import FitResult
from bayes_scaling.util.defaults import DESIGN_MAX_RUNS, DESIGN_QUANTITIES, DESIGN_WINDOW

log = logging.getLogger(__name__)

QUANTITIES = DESIGN_QUANTITIES
#: Posterior draws the calculation uses (evenly thinned, so the same fit gives the same design).
DRAWS = 200
#: Central-difference step on the unbounded scale.
STEP = 1e-4
#: Spacing of candidate budgets (decades), decades of N either side of N_opt, and sizes per candidate budget.
BUDGET_STEP = 0.25
WINDOW = DESIGN_WINDOW
SIZES = 7
MAX_RUNS = DESIGN_MAX_RUNS
#: The standard design it is compared with: this many sizes per budget, this many budgets spaced by this many
#: decades, the sizes spread over this many decades either side of the posterior median N_opt.
STANDARD = {"sizes": 5, "budgets": 3, "spacing": 0.5, "window": 0.5}
#: z of a central 90% Normal interval: widths are quoted as 90% intervals of q.
Z90 = 1.6448536269514722


@dataclass(frozen=True)
class DesignState:
    """What the calculation needs from a fit: per draw ``k`` the law's parameters, the unbounded coordinates
    ``phi[k]``, the gradient ``g[k]`` of the decision quantity, the information ``info[k]`` of one run, and the
    posterior covariance ``cov`` of ``phi``."""

    law: Law
    names: tuple[str, ...]
    logged: np.ndarray
    phi: np.ndarray
    cov: np.ndarray
    gradient: np.ndarray
    info: np.ndarray
    quantity_draws: np.ndarray

    def params(self, phi: np.ndarray) -> dict[str, np.ndarray]:
        """The law's parameters, shaped (draws, 1), from unbounded coordinates (draws, parameters)."""
        return _natural(self.names, self.logged, phi)


def _natural(names: tuple[str, ...], logged: np.ndarray, phi: np.ndarray) -> dict[str, np.ndarray]:
    natural = np.where(logged, np.exp(phi), phi)
    return {name: natural[:, i, None] for i, name in enumerate(names)}


def _central_differences(phi: np.ndarray, value) -> np.ndarray:
    """d value(phi) / d phi by central differences of :data:`STEP`, per draw: ``value`` maps (draws, parameters) to
    (draws, ...); the result has the parameters last."""
    columns = []
    for i in range(phi.shape[1]):
        up, down = phi.copy(), phi.copy()
        up[:, i] += STEP
        down[:, i] -= STEP
        columns.append((value(up) - value(down)) / (2 * STEP))
    return np.stack(columns, axis=-1)


def quantity_of(law: Law, params: dict[str, np.ndarray], target_compute: float, quantity: str) -> np.ndarray:
    """The decision quantity per draw (see :data:`QUANTITIES`)."""
    alloc = law.optimal_allocation(np.asarray(target_compute, dtype=float), **params)
    if quantity == "n_opt":
        return np.log10(np.asarray(alloc["n_params"], dtype=float)).reshape(-1)
    loss = law.loss_at(n_params=alloc["n_params"], n_tokens=alloc["n_tokens"], **params)
    return np.log(np.asarray(loss, dtype=float)).reshape(-1)


def design_state(fit: FitResult, target_compute: float, quantity: str = "n_opt", draws: int = DRAWS) -> DesignState:
    """The fit's posterior prepared for :func:`greedy_design` (``draws`` evenly thinned draws)."""
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown decision quantity {quantity!r}; valid: {', '.join(QUANTITIES)}")
    law = fit.law
    names = law.parameters
    every = np.column_stack([fit.posterior[name].values.reshape(-1) for name in names])
    logged = np.all(every > 0, axis=0)
    unbounded = np.where(logged, np.log(np.where(logged, every, 1.0)), every)
    cov = np.cov(unbounded, rowvar=False)
    picked = np.linspace(0, len(every) - 1, min(draws, len(every))).round().astype(int)
    phi = unbounded[picked]
    likelihood = get_likelihood(fit.attrs["likelihood"])
    noise = {name: fit.posterior[name].values.reshape(-1)[picked] for name in likelihood.parameters}

    def decision(at: np.ndarray) -> np.ndarray:
        return quantity_of(law, _natural(names, logged, at), target_compute, quantity)

    return DesignState(law, names, logged, phi, cov, _central_differences(phi, decision),
                       np.asarray(likelihood.location_information(**noise), dtype=float), decision(phi))


def jacobians(state: DesignState, runs: pd.DataFrame) -> np.ndarray:
    """d log L / d phi at each run (draws x runs x parameters), scaled by the square root of each draw's
    information per run, so that a run adds ``j j^T`` to the precision."""
    inputs = {name: runs[name].to_numpy(dtype=float)[None, :] for name in state.law.inputs}
    out = _central_differences(state.phi, lambda at: np.log(state.law.loss(**inputs, **state.params(at))))
    return out * np.sqrt(state.info)[:, None, None]


def _start(state: DesignState) -> np.ndarray:
    """The current covariance, one copy per draw."""
    return np.broadcast_to(state.cov, (len(state.phi), *state.cov.shape)).copy()


def variances(state: DesignState, covariances: np.ndarray) -> np.ndarray:
    """g^T S g per draw."""
    return np.einsum("kp,kpq,kq->k", state.gradient, covariances, state.gradient)


def _add(covariances: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Sherman-Morrison: each draw's covariance after one run with scaled Jacobian ``j`` (draws x parameters)."""
    u = np.einsum("kpq,kq->kp", covariances, j)
    return covariances - np.einsum("kp,kq->kpq", u, u) / (1.0 + np.einsum("kp,kp->k", j, u))[:, None, None]


def covariances_after(state: DesignState, runs: pd.DataFrame) -> np.ndarray:
    """Each draw's covariance of phi after training ``runs``."""
    covariances = _start(state)
    if len(runs):
        scaled = jacobians(state, runs)
        for m in range(len(runs)):
            covariances = _add(covariances, scaled[:, m, :])
    return covariances


def _greedy(state: DesignState, scaled: np.ndarray, cost: np.ndarray, budget: float, per_flop: bool,
            most: int) -> list[int]:
    covariances = _start(state)
    chosen: list[int] = []
    left = budget
    available = np.ones(len(cost), dtype=bool)
    while len(chosen) < most:
        affordable = available & (cost <= left * (1 + 1e-9))
        if not affordable.any():
            return chosen
        u = np.einsum("kpq,kmq->kmp", covariances, scaled)
        gain = (np.einsum("kp,kmp->km", state.gradient, u) ** 2
                / (1.0 + np.einsum("kmp,kmp->km", scaled, u))).mean(axis=0)
        score = np.where(affordable, gain / cost if per_flop else gain, -np.inf)
        best = int(np.argmax(score))
        if gain[best] <= 1e-12 * max(float(variances(state, covariances).mean()), 1e-300):
            return chosen
        chosen.append(best)
        available[best] = False
        left -= cost[best]
        covariances = _add(covariances, scaled[:, best, :])
    return chosen


def greedy_design(state: DesignState, candidates: pd.DataFrame, budget: float, most: int = MAX_RUNS
                  ) -> pd.DataFrame:
    """At most ``most`` of the candidates (rows of ``candidates``) chosen within ``budget`` FLOP: the better (lower
    mean variance of q) of the per-FLOP and the outright greedy designs."""
    scaled = jacobians(state, candidates)
    cost = candidates["compute"].to_numpy(dtype=float)
    designs = [candidates.iloc[_greedy(state, scaled, cost, budget, per_flop, most)] for per_flop in (True, False)]
    left = [float(variances(state, covariances_after(state, d)).mean()) for d in designs]
    return designs[int(np.argmin(left))].sort_values(["compute", "n_params"]).reset_index(drop=True)


def _sizes_at(fit: FitResult, budgets: np.ndarray, window: float, sizes: int) -> pd.DataFrame:
    """Runs at each budget, ``sizes`` sizes log-spaced over ``window`` decades either side of the posterior median
    N_opt there."""
    centre = np.median(np.asarray(fit.optimal_allocation(budgets)["n_params"].transpose(..., "compute").values)
                       .reshape(-1, len(budgets)), axis=0)
    offsets = np.linspace(-window, window, sizes)
    n = (centre[:, None] * 10.0 ** offsets[None, :]).reshape(-1)
    compute = np.repeat(budgets, sizes)
    return pd.DataFrame({"n_params": n, "n_tokens": compute / (6.0 * n), "compute": compute})


def candidate_runs(fit: FitResult, experiment_budget: float, *, window: float = WINDOW, sizes: int = SIZES,
                   step: float = BUDGET_STEP) -> pd.DataFrame:
    """The grid runs are chosen from: budgets every ``step`` decades from the data's smallest compute up to the
    experiment budget (one run may spend it all), ``sizes`` sizes at each."""
    low = float(np.min(fit.runs["compute"].values))
    top = np.log10(experiment_budget)
    exponents = np.arange(top, np.log10(low) - 1e-9, -step)[::-1]
    return _sizes_at(fit, 10.0 ** exponents, window, sizes)


def standard_design(fit: FitResult, experiment_budget: float, *, sizes: int = STANDARD["sizes"],
                    budgets: int = STANDARD["budgets"], spacing: float = STANDARD["spacing"],
                    window: float = STANDARD["window"]) -> pd.DataFrame:
    """An IsoFLOP design spending ``experiment_budget``: ``sizes`` sizes at each of ``budgets`` budgets
    ``spacing`` decades apart, the largest set so that the runs cost the whole budget."""
    ladder = 10.0 ** (-spacing * np.arange(budgets))
    top = experiment_budget / (sizes * ladder.sum())
    return _sizes_at(fit, np.sort(top * ladder), window, sizes)


def narrowing(state: DesignState, runs: pd.DataFrame) -> dict[str, float]:
    """Predicted 90% interval width of q after ``runs`` over its width now (per draw, sqrt of the variance ratio):
    median and 90% range over draws."""
    ratio = np.sqrt(variances(state, covariances_after(state, runs)) / variances(state, _start(state)))
    low, mid, high = np.quantile(ratio, [0.05, 0.5, 0.95])
    return {"median": float(mid), "lower": float(low), "upper": float(high)}


def suggest_runs(fit: FitResult, target_compute: float, experiment_budget: float, *, quantity: str = "n_opt",
                 window: float = WINDOW, most: int = MAX_RUNS, draws: int = DRAWS) -> dict[str, Any]:
    """The runs to train next (see the module's docstring), their cost, the predicted narrowing of the decision
    quantity's 90% interval with its spread over draws, and the same for the standard IsoFLOP design of equal cost."""
    if not fit.law.answers_allocation:
        raise ValueError(f"law {fit.law.name!r} has no compute-optimal allocation: nothing to decide at a budget")
    if not (target_compute > 0 and experiment_budget > 0):
        raise ValueError("the target compute and the experiment budget must be positive FLOP counts")
    if not window > 0:
        raise ValueError(f"the window must be a positive number of decades of N either side of N_opt, got {window}")
    if most < 1:
        raise ValueError(f"the most runs to propose must be at least 1, got {most}")
    lowest = float(np.min(fit.runs["compute"].values))
    if experiment_budget < lowest:
        raise ValueError(f"the experiment budget {experiment_budget:.3g} FLOP is below the smallest run of the fit "
                         f"({lowest:.3g} FLOP): no run fits in it")
    state = design_state(fit, target_compute, quantity, draws)
    candidates = candidate_runs(fit, experiment_budget, window=window)
    log.info("choosing runs from %d candidates (%d draws)", len(candidates), len(state.phi))
    chosen = greedy_design(state, candidates, experiment_budget, most)
    standard = standard_design(fit, experiment_budget)
    width_now = float(np.diff(np.quantile(state.quantity_draws, [0.05, 0.95]))[0])
    chosen_ratio, standard_ratio = narrowing(state, chosen), narrowing(state, standard)

    def runs_of(frame: pd.DataFrame) -> list[dict[str, float]]:
        return [{"n_params": float(r.n_params), "n_tokens": float(r.n_tokens), "compute": float(r.compute),
                 "tokens_per_param": float(r.n_tokens / r.n_params)} for r in frame.itertuples()]

    return {
        "fit": fit.name, "law": fit.law.name, "converged": fit.converged,
        "target_compute": float(target_compute), "experiment_budget": float(experiment_budget),
        "quantity": quantity, "quantity_means": QUANTITIES[quantity],
        "width_now": width_now,
        "suggested": {"runs": runs_of(chosen), "cost": float(chosen["compute"].sum()), "width_ratio": chosen_ratio,
                      "width_after": width_now * chosen_ratio["median"]},
        "standard": {"runs": runs_of(standard), "cost": float(standard["compute"].sum()),
                     "width_ratio": standard_ratio, "width_after": width_now * standard_ratio["median"],
                     "design": dict(STANDARD)},
        "how": ("linearised preposterior (Laplace) over posterior draws: the law's parameters' covariance updated by "
                "each run's information; the law is taken as right; validated by simulated refits in "
                "benchmarks/bench_suggest.py"),
    }
