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

A planned run's log loss is not the law alone: :math:`y_i = \log L(x_i; \phi) + \delta(x_i) + u_{b(i)} +
s\,d(x_i) + o \min(1, d(x_i)) + \varepsilon_i`, with :math:`\delta` the fit's discrepancy GP (its covariance at
the planned runs given the fit's runs, :func:`~bayes_scaling.uncertainty.discrepancy.conditional_covariance`),
:math:`u_b` a new budget's random offset where the fit has them, and the extrapolation drift's slope :math:`s` and
offset :math:`o` for runs :math:`d(x)` decades of compute beyond the data. These enter as latent coordinates beside
:math:`\phi` (prior covariance from the fit, independent of :math:`\phi`), and each run is one rank-one update of the
joint covariance with observation vector :math:`\sqrt{I}\,(J(x_i), e_i, e_{b(i)}, d(x_i), \min(1, d(x_i)))`. A run
where the law's misfit is still unknown (far from the fit's runs, at a size the GP has not seen) thus informs the
misfit there more than the law's parameters, and a design is not credited for runs the law may not describe.
``misfit=False`` drops them (the law taken as right). Still approximated: the latent misfit is independent of
:math:`\phi` a priori, the drift's variances are pooled over its mixture, and the decision quantity is the law's
(the misfit at the target budget is not something runs below it can narrow).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import csr_array

from bayes_scaling.laws import Law
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.result import FitResult
from bayes_scaling.uncertainty.discrepancy import Discrepancy, KrigingBasis, conditional_covariance
from bayes_scaling.uncertainty.distance import beyond
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


#: Compute values closer than this (decades) are one budget: its runs share a budget's random offset.
SAME_BUDGET = 1e-6


@dataclass(frozen=True)
class Misfit:
    """What a planned run's log loss carries besides the law and its noise (see the module's docstring): the fit's
    discrepancy GP with its kriging basis, the variance of a new budget's offset per draw (None without budget
    offsets), and the variances of the drift's slope and offset beyond the data (0 without a drift)."""

    discrepancy: Discrepancy
    basis: KrigingBasis
    budget_var: np.ndarray | None
    slope_var: float
    offset_var: float


@dataclass(frozen=True)
class DesignState:
    """What the calculation needs from a fit: per draw ``k`` the law's parameters, the unbounded coordinates
    ``phi[k]``, the gradient ``g[k]`` of the decision quantity, the information ``info[k]`` of one run, the
    posterior covariance ``cov`` of ``phi``, and the ``misfit`` a planned run carries (None: the law taken as
    right)."""

    law: Law
    names: tuple[str, ...]
    logged: np.ndarray
    phi: np.ndarray
    cov: np.ndarray
    gradient: np.ndarray
    info: np.ndarray
    quantity_draws: np.ndarray
    misfit: Misfit | None = None

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


def misfit_of(fit: FitResult, picked: np.ndarray) -> Misfit:
    """The fit's :class:`Misfit`, with the budget offsets' spread at the posterior draws ``picked``."""
    found = fit.discrepancy
    budget_sd = fit.budget_sd_draws
    drift = found.extrapolation
    if drift is not None:
        slope_var, offset_var = drift.slope_variance, drift.offset_variance
    else:
        slope_var, offset_var = float(found.drift) ** 2, 0.0
    return Misfit(found, fit.kriging_basis, None if budget_sd is None else np.asarray(budget_sd)[picked] ** 2,
                  slope_var, offset_var)


def design_state(fit: FitResult, target_compute: float, quantity: str = "n_opt", draws: int = DRAWS, *,
                 misfit: bool = True) -> DesignState:
    """The fit's posterior prepared for :func:`greedy_design` (``draws`` evenly thinned draws); ``misfit``: whether
    planned runs carry the fit's discrepancy, budget offsets and drift (:class:`Misfit`)."""
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
                       np.asarray(likelihood.location_information(**noise), dtype=float), decision(phi),
                       misfit_of(fit, picked) if misfit else None)


def jacobians(state: DesignState, runs: pd.DataFrame) -> np.ndarray:
    """d log L / d phi at each run (draws x runs x parameters), scaled by the square root of each draw's
    information per run, so that a run adds ``j j^T`` to the precision."""
    inputs = {name: runs[name].to_numpy(dtype=float)[None, :] for name in state.law.inputs}
    out = _central_differences(state.phi, lambda at: np.log(state.law.loss(**inputs, **state.params(at))))
    return out * np.sqrt(state.info)[:, None, None]


def _start(state: DesignState) -> np.ndarray:
    """The current covariance of phi, one copy per draw."""
    return np.broadcast_to(state.cov, (len(state.phi), *state.cov.shape)).copy()


def _misfit_coordinates(misfit: Misfit, runs: pd.DataFrame, draws: int) -> tuple[np.ndarray, np.ndarray]:
    """The latent misfit of ``runs`` (see the module's docstring): its prior covariance per draw (draws x M x M)
    and each run's coefficients on it (runs x M): delta at each run, one offset per budget, the drift's slope and
    offset."""
    inputs = {name: runs[name].to_numpy(dtype=float) for name in misfit.discrepancy.inputs}
    blocks = [np.broadcast_to(conditional_covariance(misfit.discrepancy, misfit.basis, inputs),
                              (draws, len(runs), len(runs)))]
    coefficients = [np.eye(len(runs))]
    if misfit.budget_var is not None:
        budgets = np.round(np.log10(runs["compute"].to_numpy(dtype=float)) / SAME_BUDGET)
        labels, which = np.unique(budgets, return_inverse=True)
        blocks.append(misfit.budget_var[:, None, None] * np.eye(len(labels))[None])
        coefficients.append(np.eye(len(labels))[which])
    distance = beyond({"compute": runs["compute"].to_numpy(dtype=float)}, misfit.discrepancy.drift_from)
    if np.any(distance > 0) and misfit.slope_var + misfit.offset_var > 0:
        blocks.append(np.broadcast_to(np.diag([misfit.slope_var, misfit.offset_var]), (draws, 2, 2)))
        coefficients.append(np.column_stack([distance, np.minimum(1.0, distance)]))
    size = sum(block.shape[-1] for block in blocks)
    prior = np.zeros((draws, size, size))
    at = 0
    for block in blocks:
        width = block.shape[-1]
        prior[:, at:at + width, at:at + width] = block
        at += width
    return prior, np.hstack(coefficients)


@dataclass(frozen=True)
class Planned:
    """The calculation's coordinates for planning a set of runs: the joint covariance now (``start``, draws x P x P,
    phi first, then the runs' latent misfit), and each run's observation vector scaled by sqrt(I): the law's part
    ``law`` (draws x runs x p) and the misfit's part ``root_info[k] * coefficients`` (runs x M, a few non-zeros a
    run), so that a run adds ``h h^T`` to the precision."""

    start: np.ndarray
    law: np.ndarray
    coefficients: np.ndarray
    root_info: np.ndarray

    def scaled(self) -> np.ndarray:
        """Every run's whole observation vector (draws x runs x P)."""
        extra = self.root_info[:, None, None] * self.coefficients[None]
        return np.concatenate([self.law, extra], axis=-1)

    def times(self, covariances: np.ndarray) -> np.ndarray:
        """S h for every run (draws x P x runs), the misfit's part through its sparse coefficients."""
        p = self.law.shape[-1]
        out = covariances[:, :, :p] @ self.law.transpose(0, 2, 1)
        if self.coefficients.shape[1]:
            draws, size, _ = covariances.shape
            sparse = csr_array(self.coefficients.T)
            misfit = (covariances[:, :, p:].reshape(draws * size, -1) @ sparse).reshape(draws, size, -1)
            out += self.root_info[:, None, None] * misfit
        return out


def planned(state: DesignState, runs: pd.DataFrame) -> Planned:
    """The :class:`Planned` coordinates of ``runs`` (only the law's parameters when ``state.misfit`` is None)."""
    law = jacobians(state, runs)
    root_info = np.sqrt(state.info)
    if state.misfit is None or not len(runs):
        return Planned(_start(state), law, np.zeros((len(runs), 0)), root_info)
    draws, p = len(state.phi), len(state.names)
    prior, coefficients = _misfit_coordinates(state.misfit, runs, draws)
    start = np.zeros((draws, p + prior.shape[-1], p + prior.shape[-1]))
    start[:, :p, :p] = state.cov
    start[:, p:, p:] = prior
    return Planned(start, law, coefficients, root_info)


def variances(state: DesignState, covariances: np.ndarray) -> np.ndarray:
    """g^T S g per draw (over phi, the first coordinates of S)."""
    p = state.gradient.shape[1]
    return np.einsum("kp,kpq,kq->k", state.gradient, covariances[:, :p, :p], state.gradient)


def _add(covariances: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Sherman-Morrison: each draw's covariance after one run with scaled Jacobian ``j`` (draws x parameters)."""
    u = np.einsum("kpq,kq->kp", covariances, j)
    return covariances - np.einsum("kp,kq->kpq", u, u) / (1.0 + np.einsum("kp,kp->k", j, u))[:, None, None]


def covariances_after(state: DesignState, runs: pd.DataFrame) -> np.ndarray:
    """Each draw's joint covariance (phi first, then the runs' latent misfit; :func:`planned`) after training
    ``runs``."""
    found = planned(state, runs)
    covariances, scaled = found.start, found.scaled()
    for m in range(len(runs)):
        covariances = _add(covariances, scaled[:, m, :])
    return covariances


def _greedy(state: DesignState, found: Planned, cost: np.ndarray, budget: float, per_flop: bool,
            most: int) -> list[int]:
    covariances = found.start.copy()
    scaled = found.scaled()
    p = state.gradient.shape[1]
    chosen: list[int] = []
    left = budget
    available = np.ones(len(cost), dtype=bool)
    while len(chosen) < most:
        affordable = available & (cost <= left * (1 + 1e-9))
        if not affordable.any():
            return chosen
        u = found.times(covariances)  # draws x P x candidates
        gain = (np.einsum("kp,kpm->km", state.gradient, u[:, :p, :]) ** 2
                / (1.0 + np.einsum("kmp,kpm->km", scaled, u))).mean(axis=0)
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
    found = planned(state, candidates)
    cost = candidates["compute"].to_numpy(dtype=float)
    designs = [candidates.iloc[_greedy(state, found, cost, budget, per_flop, most)]
               for per_flop in (True, False)]
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
                 window: float = WINDOW, most: int = MAX_RUNS, draws: int = DRAWS, misfit: bool = True
                 ) -> dict[str, Any]:
    """The runs to train next (see the module's docstring), their cost, the predicted narrowing of the decision
    quantity's 90% interval with its spread over draws, and the same for the standard IsoFLOP design of equal cost;
    ``misfit=False`` takes the law as right (:func:`design_state`)."""
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
    state = design_state(fit, target_compute, quantity, draws, misfit=misfit)
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
        "window": float(window), "misfit": misfit_description(state.misfit),
        "how": ("linearised preposterior (Laplace) over posterior draws: the covariance of the law's parameters and "
                "of the misfit the planned runs carry updated by each run's information; validated by simulated "
                "refits in benchmarks/bench_suggest.py"),
    }


def misfit_description(misfit: Misfit | None) -> str:
    """What a planned run carries besides the law in this calculation, in words."""
    if misfit is None:
        return "none: the law is taken as right (misfit=False)"
    parts = [f"the fit's discrepancy GP given its runs ({misfit.discrepancy.describe().split(';')[0]})"]
    if misfit.budget_var is not None:
        parts.append(f"a new budget's random offset (sd {np.sqrt(np.median(misfit.budget_var)):.4f})")
    if misfit.slope_var + misfit.offset_var > 0:
        parts.append(f"the extrapolation drift beyond the data (slope sd {np.sqrt(misfit.slope_var):.4f} per decade, "
                     f"offset sd {np.sqrt(misfit.offset_var):.4f})")
    return "; ".join(parts)
