"""Leave-one-suite-out: score the frozen method on each development suite with a cross-suite prior learned without it.

For each suite and law: the fit of its budgets up to a tenth of the top one (:data:`~bayes_scaling.validation.
extrapolation_errors.SCORED_CUT`, made by :func:`~bayes_scaling.validation.extrapolation_errors.run_task`) gets its
extrapolation slope from the cross-suite model fitted to every other suite's errors and its own leave-future-out
errors, and is scored on the suite's larger budgets three ways: the law alone (posterior predictive with noise), the
whole model (law, discrepancy GP, extrapolation slope, noise) and the bootstrap baseline (Hoffmann's Huber point
fit with resampled runs and residuals). Coverage of 50/80/90/95% central intervals per run and per budget, their
width, CRPS and log score, on log loss.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from bayes_scaling.result import load
from bayes_scaling.uncertainty.extrapolation import allocation_model, prior_from_dict
from bayes_scaling.validation.bootstrap import bootstrap_fit
from bayes_scaling.validation.extrapolation_errors import SCORED_CUT, Task, heldout_frame
from bayes_scaling.validation.extrapolation_learning import fit_cross_suite
from bayes_scaling.validation.holdout import LEVELS, predictive_samples_and_score, run_budgets, sample_scores

log = logging.getLogger(__name__)

#: Bootstrap replicates of the baseline.
REPLICATES = 100


def sample_log_score(samples: np.ndarray, observed: np.ndarray) -> float:
    """Mean log predictive density of ``observed`` under a Gaussian kernel density of each run's ``samples`` (draws
    on axis 0), Silverman's bandwidth: the log score of a method that gives draws, not a density."""
    n = samples.shape[0]
    spread = np.std(samples, axis=0, ddof=1)
    width = np.maximum(1.06 * spread * n ** -0.2, 1e-6)
    z = (observed[None, :] - samples) / width[None, :]
    density = logsumexp(-0.5 * z * z, axis=0) - np.log(n) - np.log(width) - 0.5 * np.log(2 * np.pi)
    return float(np.mean(density))


def held_dataset(task: Task) -> xr.Dataset:
    """The held-out runs of a task as a Dataset over ``run``."""
    frame = heldout_frame(task).drop(columns=["budget_label"]).reset_index(drop=True)
    return xr.Dataset({name: ("run", frame[name].to_numpy()) for name in frame.columns if name != "row"},
                      coords={"run": frame["row"].to_numpy()})


def score_suite(folder: str | Path, suite: str, law: str, errors: pd.DataFrame, *, seed: int = 0,
                between: str = "normal", shared: bool = False, drift_scale: float = 1.0,
                learned: dict[str, Any] | None = None) -> list[dict]:
    """Rows (law alone, whole model, bootstrap) for one suite and law; ``errors`` is the table of every suite's
    held-out errors (the suite's own are left out of its prior here); ``between``: how the cross-suite model
    spreads the suites' slopes, ``shared``: whether a refit's systematic uncertainty is one shift of its held-out
    runs (:func:`~bayes_scaling.validation.extrapolation_learning.fit_cross_suite`); ``learned``: that model's
    posterior without the suite, if already fitted. With a ``drift_scale`` other than 1 (kappa,
    :mod:`bayes_scaling.validation.drift_scale`), the whole model's drift spread is scaled by it and a row "whole
    model, unscaled drift" shows the same prior without it."""
    task = Task(suite, law, SCORED_CUT)
    path = Path(folder) / f"{task.key}.nc"
    if not path.exists():
        return []
    if learned is None:
        others = errors[(errors["law"] == law) & (errors["suite"] != suite)]
        learned = fit_cross_suite(others, seed=seed, between=between, shared=shared)
    prior = prior_from_dict(law, learned, f"without {suite}")
    unscaled = load(path).with_extrapolation(prior)
    fit = unscaled.with_extrapolation(replace(prior, drift_scale=drift_scale))
    held = held_dataset(task)
    base = {"suite": suite, "law": law, "converged": bool(fit.converged), "n_train": int(fit.runs.sizes["run"]),
            "prior_rhat": learned["diagnostics"]["max_rhat"],
            "prior_converged": bool(learned["diagnostics"]["converged"]),
            "slope": float(np.median(fit.discrepancy.extrapolation.slope_mean)), "drift_scale": float(drift_scale)}
    rows = []
    methods = [("law alone", fit, False), ("whole model", fit, True)]
    if drift_scale != 1.0:
        methods.append(("whole model, unscaled drift", unscaled, True))
    for method, which, discrepancy in methods:
        _, scores = predictive_samples_and_score(which, held, seed=seed, discrepancy=discrepancy)
        rows.append({**base, "method": method, **scores})
    inputs = {name: fit.runs[name].values for name in fit.law.inputs}
    boot = bootstrap_fit(fit.law, inputs, fit.runs["loss"].values, replicates=REPLICATES, seed=seed)
    samples = boot.predictive_log_loss({name: held[name].values for name in fit.law.inputs},
                                       np.random.default_rng(seed))
    observed = np.log(held["loss"].values)
    rows.append({**base, "method": "bootstrap", "converged": None,
                 **sample_scores(samples, observed, LEVELS, run_budgets(held)),
                 "log_score": sample_log_score(samples, observed)})
    return rows


def ideal_coverage(samples: np.ndarray, *, level: float = 0.9, truths: int = 1000, seed: int = 0) -> np.ndarray:
    """Coverage of the central ``level`` intervals of ``samples`` (joint predictive draws, draws x runs) when the truth
    is itself one joint draw of that predictive, for ``truths`` such draws: what a perfectly calibrated method would
    score on one suite. Runs of one suite err together (one slope, one offset per budget), so this spreads far
    wider than a Binomial(runs, level) share would."""
    low, high = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=0)
    truth = samples[np.random.default_rng(seed).integers(0, samples.shape[0], truths)]
    return np.mean((truth >= low) & (truth <= high), axis=1)


def at_least(probabilities: np.ndarray, count: int) -> float:
    """P(at least ``count`` successes) among independent events of the given ``probabilities`` (Poisson-binomial)."""
    distribution = np.array([1.0])
    for p in np.asarray(probabilities, dtype=float):
        distribution = np.convolve(distribution, [1 - p, p])
    return float(distribution[count:].sum())


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table: per suite and law, each method's coverage of 50/80/90/95% intervals (per run),
    mean 90% width, CRPS and log score (log loss), with a mark where the suite's fit, or the cross-suite model
    learned without the suite, did not converge."""
    head = ("| suite | law | held-out runs (budgets) | method | 50% | 80% | 90% | 95% | 90% width | CRPS "
            "| log score |\n|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for row in rows:
        coverage = row["coverage"]
        mark = " (not converged)" if row.get("converged") is False else ""
        if row.get("prior_converged") is False:
            mark += " (cross-suite prior not converged)"
        lines.append(
            f"| {row['suite']} | {row['law']} | {row['n_runs']} ({row.get('n_budgets', '–')}) | "
            f"{row['method']}{mark} | "
            + " | ".join(f"{_level(coverage, level):.0%}" for level in LEVELS)
            + f" | {_level(row['width'], 0.9):.3f} | {row['crps']:.4f} | {row['log_score']:.2f} |")
    return "\n".join(lines)


def _level(values: dict, level: float) -> float:
    """A per-level value whether the keys are floats or (after JSON) strings."""
    return float(values[level] if level in values else values[str(level)])


def allocation_rows(allocation: pd.DataFrame, *, seed: int = 0, level: float = 0.9,
                    between: str = "normal") -> list[dict[str, Any]]:
    """Leave-one-suite-out coverage of held-out IsoFLOP budgets' empirical N_opt (scored fits, a tenth of the top
    budget) by the central ``level`` interval of log10 N_opt: the law's own (its posterior and the vertex's
    uncertainty) and with the N_opt drift learned without the suite (:func:`~bayes_scaling.uncertainty.
    extrapolation.allocation_model`)."""
    from scipy.stats import norm

    rows = []
    scored = allocation[(allocation["cut"] == SCORED_CUT) & (allocation["distance"] > 0)]
    z = norm.ppf(0.5 + level / 2)
    for (suite, law), held in scored.groupby(["suite", "law"], sort=False):
        others = allocation[(allocation["law"] == law) & (allocation["suite"] != suite)]
        model = allocation_model(prior_from_dict(law, fit_cross_suite(others, seed=seed, between=between),
                                                 f"without {suite}"))
        error, variance = held["error"].to_numpy(), held["variance"].to_numpy()
        distance = held["distance"].to_numpy()
        draws = model.draws(np.random.default_rng(seed), 4000, distance)  # draws x budgets
        shifted = draws + np.sqrt(variance)[None, :] * np.random.default_rng([seed, 1]).standard_normal(draws.shape)
        low, high = np.quantile(shifted, [(1 - level) / 2, (1 + level) / 2], axis=0)
        rows.append({"suite": suite, "law": law, "budgets": len(held), "converged": bool(held["converged"].all()),
                     "law_covered": int(np.sum(np.abs(error) <= z * np.sqrt(variance))),
                     "drift_covered": int(np.sum((error >= low) & (error <= high))),
                     "law_width": float(np.mean(2 * z * np.sqrt(variance))), "drift_width": float(np.mean(high - low))})
    return rows
