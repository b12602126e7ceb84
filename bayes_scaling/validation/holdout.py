"""Scoring a fit's posterior predictive on runs it did not see (for example the runs with the most compute, held out
by the ``hold_out_top_compute`` filter): log score, CRPS, and the coverage and width of central intervals.

The predictive distribution of a held-out run's log loss is the likelihood averaged over posterior draws, so the
scores include the noise model, not only the uncertainty of the law's parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy.special import bdtr, logsumexp

from bayes_scaling.data.budgets import budget_groups, budget_labels
from bayes_scaling.derived import parabola_vertices
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.result import FitResult

LEVELS = (0.5, 0.8, 0.9, 0.95)
RUN_DIM = "run"

#: A 90% interval is called honest on n held-out runs if the count it covers lies in the central HONEST_MASS of
#: Binomial(n, 0.9): on 72 runs 81% to 97%, on 26 runs 73% to 100%. (Runs of one budget err together, which
#: widens the real spread, so this is the stricter side.)
HONEST_MASS = 0.99


def honest_range(n_runs: int, level: float = 0.9) -> tuple[float, float]:
    """The coverage fractions a true ``level`` interval gives on ``n_runs`` independent runs with probability
    :data:`HONEST_MASS` (central binomial range)."""
    low, high = (binomial_quantile(q, n_runs, level) for q in ((1 - HONEST_MASS) / 2, (1 + HONEST_MASS) / 2))
    return low / n_runs, high / n_runs


def binomial_quantile(q: float, n: int, p: float) -> int:
    """The smallest k with P(Binomial(n, p) <= k) >= q (``scipy.stats.binom.ppf``'s answer, which
    ``tests/test_holdout.py`` checks; from ``scipy.special.bdtr``, so scoring does not import scipy.stats)."""
    ks = np.arange(n + 1)
    return int(ks[min(int(np.searchsorted(bdtr(ks, n, p), q, side="left")), n)])


def is_honest(coverage: float, n_runs: int, level: float = 0.9) -> bool:
    low, high = honest_range(n_runs, level)
    return low - 1e-9 <= coverage <= high + 1e-9


def heldout_runs(full: FitResult, partial: FitResult) -> xr.Dataset:
    """The runs of ``full`` (its ``constant_data``) that ``partial`` was not fitted to."""
    everything = full.runs
    seen = set(partial.runs[RUN_DIM].values.tolist())
    keep = [run not in seen for run in everything[RUN_DIM].values.tolist()]
    return everything.isel({RUN_DIM: np.flatnonzero(keep)})


def _crps(samples: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """CRPS of each observation from predictive samples (samples on axis 0): E|X - y| - E|X - X'| / 2, the latter
    from the sorted samples in O(S log S)."""
    s = np.sort(samples, axis=0)
    n = s.shape[0]
    first = np.mean(np.abs(s - observed[None, :]), axis=0)
    weights = (2.0 * np.arange(1, n + 1) - n - 1)[:, None]
    second = np.sum(weights * s, axis=0) / (n * n)  # E|X - X'| / 2
    return first - second


def predictive_score(fit: FitResult, runs: xr.Dataset, *, seed: int = 0, levels=LEVELS,
                     discrepancy: bool = False) -> dict[str, Any]:
    """Scores of ``fit``'s posterior predictive on ``runs`` (a Dataset over ``run`` with the law's inputs and
    ``loss``), on log loss; with ``discrepancy``, the predictive adds the law's discrepancy GP
    (:mod:`bayes_scaling.uncertainty.discrepancy`) to each draw.

    Returns
    -------
    dict: ``n_runs``; ``log_score`` (mean log predictive density per run, higher is better); ``crps`` (mean, lower
    is better); ``coverage`` and ``width`` per level (fraction of runs inside the central interval, mean width in
    log loss, about the relative width); ``max_compute_seen`` and ``min_compute_held_out`` (FLOP).
    """
    return predictive_samples_and_score(fit, runs, seed=seed, levels=levels, discrepancy=discrepancy)[1]


def predictive_samples_and_score(fit: FitResult, runs: xr.Dataset, *, seed: int = 0, levels=LEVELS,
                                 discrepancy: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """The predictive draws of log loss at ``runs`` (draws x runs) that :func:`predictive_score` scores, and its
    scores, so per-run intervals and the summary come from the same draws."""
    if runs.sizes.get(RUN_DIM, 0) == 0:
        raise ValueError(f"{fit.name}: no held-out runs to score")
    rng = np.random.default_rng(seed)
    likelihood, mu, noise = _predictive_parts(fit, runs, np.random.default_rng([seed, 2]) if discrepancy else None)
    observed = np.log(runs["loss"].values)
    log_density = likelihood.logpdf(observed[None, :], mu, **noise)
    lpd = logsumexp(log_density, axis=0) - np.log(log_density.shape[0])
    samples = likelihood.sample(rng, mu, **noise)
    return samples, {
        **sample_scores(samples, observed, levels, run_budgets(runs)), "log_score": float(np.mean(lpd)),
        "max_compute_seen": float(fit.runs["compute"].max()), "min_compute_held_out": float(runs["compute"].min()),
    }


def sample_scores(samples: np.ndarray, observed: np.ndarray, levels=LEVELS,
                  budgets: np.ndarray | None = None) -> dict[str, Any]:
    """``n_runs``, mean ``crps``, and ``coverage`` and mean ``width`` of central intervals per level, from
    predictive draws of log loss (draws on axis 0, runs on axis 1) and the observed log losses; with ``budgets``
    (a label per run), also ``n_budgets`` and ``budget_coverage``, the coverage of each budget's runs averaged over
    budgets (runs of one budget err together, so the budgets, not the runs, are the independent units)."""
    coverage, width, budget_coverage = {}, {}, {}
    labels = None if budgets is None else np.asarray(budgets)
    for level in levels:
        low, high = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=0)
        inside = (observed >= low) & (observed <= high)
        coverage[level] = float(np.mean(inside))
        width[level] = float(np.mean(high - low))
        if labels is not None:
            budget_coverage[level] = float(np.mean([inside[labels == b].mean() for b in np.unique(labels)]))
    out = {"n_runs": int(observed.size), "crps": float(np.mean(_crps(samples, observed))), "coverage": coverage,
           "width": width}
    if labels is not None:
        out.update(n_budgets=int(np.unique(labels).size), budget_coverage=budget_coverage)
    return out


def run_budgets(runs: xr.Dataset) -> np.ndarray:
    """The budget label of each run of a Dataset over ``run`` (:func:`~bayes_scaling.data.budgets.budget_labels`)."""
    names = [name for name in ("compute", "budget") if name in runs]
    return budget_labels(runs[names].to_dataframe().reset_index(drop=True))


def extrapolation_score(full: FitResult, partial: FitResult, *, seed: int = 0,
                        discrepancy: bool = False) -> dict[str, Any] | None:
    """:func:`predictive_score` of ``partial`` on the runs of ``full`` it was not fitted to, if it held out runs
    with the ``hold_out_top_compute`` filter (else None)."""
    if not any(note.startswith("hold_out_top_compute") for note in partial.attr_json("filters")):
        return None
    runs = heldout_runs(full, partial)
    if not runs.sizes.get(RUN_DIM, 0):
        return None
    return predictive_score(partial, runs, seed=seed, discrepancy=discrepancy)


def _budget_profiles(runs: xr.Dataset, min_runs: int):
    """``(compute, index, log N, empirical N_opt)`` of each IsoFLOP budget among ``runs`` whose loss profile has a
    minimum inside its range of N."""
    log_n, log_loss = np.log(runs["n_params"].values), np.log(runs["loss"].values)
    for group in budget_groups(runs["compute"].values, min_runs=min_runs, most=64):
        x = log_n[group.index]
        if np.ptp(x) == 0:
            continue
        vertex = float(parabola_vertices(x, log_loss[group.index]))
        if x.min() < np.log(vertex) < x.max():
            yield group.compute, group.index, x, vertex


def empirical_optima(runs: xr.Dataset, *, min_runs: int = 5) -> list[tuple[float, float]]:
    """``(budget compute, N_opt)`` of each IsoFLOP budget among ``runs`` whose loss profile has a minimum inside
    its range of N: the vertex of a parabola fitted to log loss against log N over the budget's runs."""
    return [(compute, vertex) for compute, _, _, vertex in _budget_profiles(runs, min_runs)]


def optimum_coverage(n_opt_draws, optima: list[tuple[float, float]], level: float = 0.9) -> dict[str, Any]:
    """How many held-out budgets' empirical N_opt fall inside the central ``level`` interval of the law's N_opt
    at their compute; ``n_opt_draws(compute)`` returns draws of N_opt there."""
    rows = []
    for compute, observed in optima:
        draws = np.asarray(n_opt_draws(compute), dtype=float).ravel()
        low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
        rows.append({"compute": compute, "n_opt": observed, "lower": float(low), "upper": float(high),
                     "covered": bool(low <= observed <= high)})
    return {"level": level, "budgets": len(rows), "covered": sum(row["covered"] for row in rows), "rows": rows}


def predictive_optimum_coverage(predictive, runs: xr.Dataset, *, level: float = 0.9,
                                min_runs: int = 5) -> dict[str, Any] | None:
    """Held-out IsoFLOP budgets' empirical N_opt against the predictive distribution of that same estimate.

    The empirical N_opt of a budget is the vertex of a parabola in log N through its runs' observed log losses,
    noise included; so it is scored like a held-out loss, against draws of the estimate: ``predictive(budget_runs)``
    returns draws of log loss at the budget's runs (draws x runs, each draw jointly: law, discrepancy along the
    budget and noise), and the same parabola is fitted to each draw. Rows as :func:`optimum_coverage`, plus
    ``no_minimum``: the share of draws whose parabola has no minimum (left out of the interval). None if no
    held-out budget has a minimum inside its runs.
    """
    rows = []
    for compute, index, log_n, observed in _budget_profiles(runs, min_runs):
        draws = parabola_vertices(log_n, np.asarray(predictive(runs.isel({RUN_DIM: index})), dtype=float).T)
        finite = draws[np.isfinite(draws)]
        if not finite.size:
            continue
        low, high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
        rows.append({"compute": compute, "n_opt": observed, "lower": float(low), "upper": float(high),
                     "covered": bool(low <= observed <= high), "no_minimum": float(1 - finite.size / draws.size)})
    if not rows:
        return None
    return {"level": level, "budgets": len(rows), "covered": sum(row["covered"] for row in rows), "rows": rows}


def _predictive_parts(fit: FitResult, runs: xr.Dataset, discrepancy_rng: np.random.Generator | None, *,
                      joint: bool = False):
    """The fit's likelihood, the location of log loss at ``runs`` per posterior draw (draws x runs: the law, plus
    the discrepancy drawn from ``discrepancy_rng`` unless it is None) and the noise parameters per draw."""
    likelihood = get_likelihood(str(fit.tree.attrs["likelihood"]))
    inputs = {name: runs[name].values for name in fit.law.inputs}
    mu = fit.law.log_loss(fit.draws(fit.law.parameters), inputs)
    if discrepancy_rng is not None:
        mu = mu + fit.discrepancy_draws(discrepancy_rng, joint=joint, **inputs)
    noise = {name: values[:, None] for name, values in fit.draws(likelihood.parameters).items()}
    return likelihood, mu, noise


def predictive_log_loss(fit: FitResult, runs: xr.Dataset, rng: np.random.Generator, *,
                        discrepancy: bool = False) -> np.ndarray:
    """Posterior predictive draws of log loss at ``runs`` (draws x runs): the law per posterior draw, with
    ``discrepancy`` plus the discrepancy GP drawn jointly over the runs, plus the fit's noise."""
    likelihood, mu, noise = _predictive_parts(fit, runs, rng if discrepancy else None, joint=True)
    return likelihood.sample(rng, mu, **noise)


def optimum_text(row: dict) -> str:
    """"k/m": held-out IsoFLOP budgets whose empirical N_opt is inside the 90% predictive interval of that estimate,
    then "(law k/m)" inside the 90% interval of the law's own N_opt; "–" where there is no such budget."""
    found, law = row.get("n_opt"), row.get("n_opt_law")
    if not found:
        return "–"
    return f"{found['covered']}/{found['budgets']}" + (f" (law {law['covered']}/{law['budgets']})" if law else "")


def is_scored(row: dict[str, Any]) -> bool:
    """Whether a backtest row's scores may be quoted: a Bayesian refit that failed its diagnostics is "not scored"
    (its numbers are kept in the file, never shown as coverage)."""
    return row.get("scored", row.get("converged") is not False)
