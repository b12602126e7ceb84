"""Extrapolation backtests: fit a law without the runs with the most compute and score its predictive on them, for the
Bayesian fit and for the bootstrap baseline on the same split, so their coverage and width compare.

For each held-out fraction f, the runs are split by the ``hold_out_top_compute`` filter (whole budgets with the most
compute, about a fraction f of the runs; a budget is never split); both methods see the same training runs and are
scored on the same held-out runs, on log loss: coverage (per run and averaged per budget) and width of central
50/80/90/95% intervals and CRPS (and, for the Bayesian fit, the log predictive density); a Bayesian refit that fails
its diagnostics is "not scored" (:func:`~bayes_scaling.validation.holdout.is_scored`); where the held-out runs form
IsoFLOP budgets with a minimum inside them, also whether each budget's empirical N_opt (the vertex of a parabola
through its runs) lies in the 90% predictive interval of that same estimate (``n_opt``: the parabola fitted to
predictive draws at the budget's runs, noise included, as a held-out loss is scored against the predictive) and in
the 90% interval of the law's own N_opt (``n_opt_law``: no noise, no discrepancy). The Bayesian fit is scored three
times, the model as it grew: the law with its noise model alone ("bayes"), plus the discrepancy GP without the
extrapolation slope ("bayes+gp") and the whole discrepancy, GP and extrapolation slope ("bayes+discrepancy",
:mod:`bayes_scaling.uncertainty.discrepancy` and :mod:`bayes_scaling.uncertainty.extrapolation`, drawn jointly along
each held-out budget). The slope's cross-suite prior was learned from the published suites, these backtests'
runs among them: on those runs it is not out of sample (the leave-one-suite-out table in ``docs/calibration.md``
is)."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import numpy as np

from bayes_scaling.data.budgets import budget_labels
from bayes_scaling.data.filters import split_top_compute
from bayes_scaling.data.load import check_identifiable
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.result import FitResult
from bayes_scaling.sampling.run import PreparedFit
from bayes_scaling.sampling.tree import run_inputs
from bayes_scaling.uncertainty import fit_with_uncertainty
from bayes_scaling.util.defaults import HOLD_OUT_FRACTIONS
from bayes_scaling.validation.bootstrap import MAX_STARTS, bootstrap_fit
from bayes_scaling.validation.holdout import (
    empirical_optima,
    optimum_coverage,
    predictive_log_loss,
    predictive_optimum_coverage,
    predictive_score,
    run_budgets,
    sample_scores,
)
from bayes_scaling.validation.sbc import sbc

log = logging.getLogger(__name__)

FRACTIONS = HOLD_OUT_FRACTIONS
#: Fewest budgets a backtest's training runs may keep.
MIN_TRAIN_BUDGETS = 2
#: The Bayesian rows of a backtest: method name, and which part of the discrepancy its predictive includes.
BAYES_METHODS = {"bayes": None, "bayes+gp": "gp", "bayes+discrepancy": "all"}


def split(prepared: PreparedFit, fraction: float) -> tuple[PreparedFit, Any]:
    """The prepared fit on the runs kept by ``hold_out_top_compute = fraction``, and the held-out runs (a Dataset
    over ``run``)."""
    train_runs, held_runs = split_top_compute(prepared.runs, fraction)
    held = run_inputs(held_runs)
    spec = dataclasses.replace(prepared.spec, name=f"{prepared.spec.name}--holdout-{fraction:g}",
                               data=dataclasses.replace(prepared.spec.data, filters={
                                   **prepared.spec.data.filters, "hold_out_top_compute": fraction}))
    return dataclasses.replace(prepared, spec=spec, runs=train_runs), held


def _backtest_one(task) -> list[dict[str, Any]]:
    """The Bayesian and bootstrap rows of one held-out fraction: ``task`` is (prepared, fraction, replicates,
    seed, most grid starts of the bootstrap)."""
    prepared, fraction, replicates, seed, starts = task
    train, held = split(prepared, fraction)
    start = time.perf_counter()
    fit = FitResult(fit_with_uncertainty(train))
    seconds = time.perf_counter() - start
    sampler = {"sampling_seconds": float(fit.tree.attrs["sampling_seconds"]),
               "min_ess_bulk": fit.diagnostics.min_ess_bulk}
    optima = empirical_optima(held)
    law_optima = _optimum_check(lambda c: fit.optimal_allocation(c)["n_params"], optima)

    def bayes_row(method: str, part: str | None) -> dict[str, Any]:
        scored = fit.without_drift() if part == "gp" else fit
        predictive = _predictive_optimum_check(lambda budget: predictive_log_loss(
            scored, budget, np.random.default_rng([seed, 3]), discrepancy=part is not None), held, train.law)
        return {"fraction": fraction, "method": method, "n_train": len(train.runs), "converged": fit.converged,
                "scored": fit.converged,
                "seconds": seconds, **sampler, "n_opt_law": law_optima, "n_opt": predictive,
                "slope": (float(np.median(fit.discrepancy.extrapolation.slope_mean))
                          if fit.discrepancy.extrapolation is not None else fit.discrepancy.drift),
                **predictive_score(scored, held, seed=seed, discrepancy=part is not None)}

    rows = [bayes_row(method, part) for method, part in BAYES_METHODS.items()]
    inputs = {name: train.runs.column(name) for name in train.law.inputs}
    boot = bootstrap_fit(train.law, inputs, train.runs.column("loss"), replicates=replicates, seed=seed,
                         max_starts=starts)
    samples = boot.predictive_log_loss({name: held[name].values for name in train.law.inputs},
                                       np.random.default_rng(seed))
    boot_optima = _optimum_check(
        lambda c: train.law.optimal_allocation(c, **boot.params(boot.replicates))["n_params"], optima)
    boot_predictive = _predictive_optimum_check(lambda budget: boot.predictive_log_loss(
        {name: budget[name].values for name in train.law.inputs}, np.random.default_rng([seed, 3])), held, train.law)
    rows.append({"fraction": fraction, "method": "bootstrap", "n_train": len(train.runs), "converged": None,
                 "scored": True, "seconds": boot.seconds, "n_opt_law": boot_optima, "n_opt": boot_predictive,
                 **sample_scores(samples, np.log(held["loss"].values), budgets=run_budgets(held))})
    return rows


def _optimum_check(n_opt_draws, optima) -> dict[str, Any] | None:
    """:func:`~bayes_scaling.validation.holdout.optimum_coverage`, or None if the law gives no allocation or no held-out
    budget has a minimum inside its runs."""
    if not optima:
        return None
    try:
        return optimum_coverage(n_opt_draws, optima)
    except LawNotApplicable:
        return None


def _predictive_optimum_check(predictive, held, law) -> dict[str, Any] | None:
    """:func:`~bayes_scaling.validation.holdout.predictive_optimum_coverage` where the law has N among its inputs."""
    if "n_params" not in law.inputs:
        return None
    return predictive_optimum_coverage(predictive, held)


def check_splits(prepared: PreparedFit, fractions) -> None:
    """Refuse, before any fit, a held-out fraction that holds out no run or leaves too few runs to fit the law."""
    for fraction in fractions:
        train, held = split(prepared, fraction)
        if held.sizes["run"] == 0:
            raise ValueError(f"{prepared.spec.name}: hold-out fraction {fraction} holds out no run of "
                             f"{len(prepared.runs)}; give a larger fraction")
        kept = len(set(budget_labels(train.runs.frame).tolist()))
        if kept < MIN_TRAIN_BUDGETS:
            raise ValueError(f"{prepared.spec.name}: hold-out fraction {fraction} leaves {kept} budget to fit (of "
                             f"{len(set(budget_labels(prepared.runs.frame).tolist()))}); an extrapolation needs at "
                             f"least {MIN_TRAIN_BUDGETS}: give a smaller fraction")
        check_identifiable(train.runs, train.law, f"{prepared.spec.name} without the top {fraction:.0%} of compute")


def backtest(prepared: PreparedFit, fractions=FRACTIONS, *, replicates: int = 200, seed: int = 0,
             starts: int = MAX_STARTS, scheduler: str = "serial", workers: int = 2,
             progress=None) -> tuple[list[dict[str, Any]], float]:
    """One row per (fraction, method): ``fraction``, ``method`` (``bayes``, ``bayes+discrepancy`` or
    ``bootstrap``), ``n_train``, for the Bayesian rows ``sampling_seconds`` and ``min_ess_bulk`` of the fit,
    ``converged`` (Bayesian fits; None for the bootstrap), ``seconds`` and the scores of
    :func:`~bayes_scaling.validation.holdout.sample_scores` (plus ``log_score`` for the Bayesian fit); and the
    wall-clock seconds. Each fraction is one task (:func:`~bayes_scaling.util.parallel.run_tasks`), seeded alike on any
    scheduler."""
    from bayes_scaling.util.parallel import run_tasks

    check_splits(prepared, fractions)
    tasks = [(prepared, fraction, replicates, seed, starts) for fraction in fractions]
    results, seconds = run_tasks(_backtest_one, tasks, scheduler=scheduler, workers=workers, progress=progress)
    return [row for rows in results for row in rows], seconds


def rows_as_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Backtest rows with their per-level dicts keyed by strings (JSON objects)."""
    keyed = ("coverage", "width", "budget_coverage")
    return [{**row, **{key: {str(k): v for k, v in row[key].items()} for key in keyed if key in row}} for row in rows]


def calibrate_spec(prepared: PreparedFit, *, scheduler: str = "local", workers: int = 2,
                   progress=None) -> dict[str, Any]:
    """Everything the spec's ``[calibration]`` asks for: ``{"backtest": {"rows", "seconds"}, "sbc": {...} or
    None}``, JSON-ready (see :func:`backtest` and :func:`bayes_scaling.validation.sbc.sbc`)."""
    settings = prepared.spec.calibration
    seed = prepared.spec.sampler.seed
    rows, seconds = backtest(prepared, settings.hold_out, replicates=settings.replicates, seed=seed,
                             scheduler=scheduler, workers=workers, progress=progress)
    out = {"backtest": {"rows": rows_as_json(rows), "seconds": seconds, "replicates": settings.replicates},
           "sbc": None}
    if settings.simulations:
        out["sbc"] = sbc(prepared, settings.simulations, seed=seed, draws=settings.sbc_draws,
                         tune=settings.sbc_tune, chains=settings.sbc_chains, scheduler=scheduler, workers=workers,
                         progress=progress)
    return out
