"""Were new runs where a fit said they would be? Each new run's loss against the fit's whole predictive (the law per
posterior draw, its discrepancy GP and extrapolation slope drawn jointly over the runs, and its noise): central
intervals, coverage per run and per budget, CRPS, log score, how far each run lies beyond the fit's data, and a
plain verdict from the binomial band of a true 90% interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.data.filters import WINDOW_FILTERS, outside_windows
from bayes_scaling.result import FitResult
from bayes_scaling.uncertainty.distance import beyond, log10_scale
from bayes_scaling.validation.holdout import (
    LEVELS,
    honest_range,
    predictive_samples_and_score,
    run_budgets,
)

#: Version of the JSON this module's results are written as (2: every interval as ``median, lower, upper, level``,
#: with ``covered``).
SCHEMA_VERSION = 2


def score_runs(fit: FitResult, runs: xr.Dataset, *, seed: int = 0, levels=LEVELS) -> dict[str, Any]:
    """Score ``runs`` (a Dataset over ``run`` with the law's inputs, ``compute`` and ``loss``) against ``fit``.

    Returns
    -------
    dict with ``runs`` (one entry per run: its inputs, observed loss, predictive median and central interval per
    level in nats, whether each covers it, its decades of compute beyond the fit's data and ``outside_window``,
    whether it lies beyond the per-budget window the fit's runs were filtered to), ``summary`` (``coverage`` and
    ``budget_coverage`` per level, ``n_runs``, ``n_budgets``, ``crps`` and ``log_score`` on log loss,
    ``decades_beyond`` max, ``window``: :func:`_window_summary`), ``verdict`` and ``schema_version``.
    """
    draws, scores = predictive_samples_and_score(fit, runs, seed=seed, levels=levels, discrepancy=True)
    observed = np.log(runs["loss"].values)
    law_inputs = {name: runs[name].values for name in fit.law.inputs}
    reference = float(np.max(log10_scale({name: fit.runs[name].values for name in fit.law.inputs})))
    distance = beyond(law_inputs, reference)
    budgets = run_budgets(runs)
    windows = fit_windows(fit)
    outside = outside_windows(_frame(runs), windows) if windows else np.zeros(observed.size, dtype=bool)
    per_run = []
    for i in range(observed.size):
        intervals = {}
        for level in levels:
            low, high = np.exp(np.quantile(draws[:, i], [(1 - level) / 2, (1 + level) / 2]))
            intervals[str(level)] = {"median": float(np.exp(np.median(draws[:, i]))), "lower": float(low),
                                     "upper": float(high), "level": level,
                                     "covered": bool(low <= np.exp(observed[i]) <= high)}
        per_run.append({"run": int(runs["run"].values[i]), "budget": int(budgets[i]),
                        **{name: float(runs[name].values[i]) for name in (*fit.law.inputs, "compute")
                           if name in runs},
                        "loss": float(np.exp(observed[i])), "median": float(np.exp(np.median(draws[:, i]))),
                        "intervals": intervals, "decades_beyond": float(distance[i]),
                        "outside_window": bool(outside[i])})
    summary = {"n_runs": scores["n_runs"], "n_budgets": scores["n_budgets"],
               "coverage": {str(k): v for k, v in scores["coverage"].items()},
               "budget_coverage": {str(k): v for k, v in scores["budget_coverage"].items()},
               "width": {str(k): v for k, v in scores["width"].items()},
               "crps": scores["crps"], "log_score": scores["log_score"],
               "decades_beyond": float(distance.max()) if distance.size else 0.0,
               "window": _window_summary(windows, per_run, levels)}
    return {"schema_version": SCHEMA_VERSION, "fit": fit.name, "law": fit.law.name, "converged": fit.converged,
            "includes": "law, discrepancy (GP and the extrapolation slope learned across suites) and noise",
            "summary": summary, "runs": per_run,
            "verdict": verdict(summary["coverage"].get("0.9"), summary["n_runs"], fit.converged)}


def fit_windows(fit: FitResult) -> dict[str, float]:
    """The per-budget windows (``isoflop_loss_window``, ``isoflop_window``) the fit's runs were filtered to."""
    if "spec" not in fit.attrs:
        return {}
    filters = (fit.attr_json("spec").get("data") or {}).get("filters") or {}
    return {name: float(filters[name]) for name in WINDOW_FILTERS if name in filters}


def _frame(runs: xr.Dataset) -> pd.DataFrame:
    names = [name for name in ("n_params", "compute", "loss", "budget") if name in runs]
    return runs[names].to_dataframe().reset_index(drop=True)


def _window_summary(windows: dict[str, float], per_run: list[dict[str, Any]], levels) -> dict[str, Any] | None:
    """How many new runs lie outside the fit's windows (the fit saw no run there: their intervals extrapolate along
    the IsoFLOP profile), and the coverage of the runs inside; None when the fit had no window."""
    if not windows:
        return None
    inside = [run for run in per_run if not run["outside_window"]]
    coverage = {str(level): (float(np.mean([run["intervals"][str(level)]["covered"] for run in inside]))
                             if inside else None) for level in levels}
    return {"filters": windows, "outside": len(per_run) - len(inside), "coverage_inside": coverage}


def verdict(coverage_90: float | None, n_runs: int, converged: bool = True) -> str:
    """A plain sentence: did the 90% intervals cover as many runs as a true 90% interval would (central 99% of
    Binomial(n, 0.9)), fewer (the fit was over-confident here), or more (its intervals were wider than needed)?"""
    if not converged:
        return "not scored: the fit did not converge, so its intervals cannot be trusted; refit it first"
    if coverage_90 is None or n_runs == 0:
        return "no 90% interval to check"
    low, high = honest_range(n_runs)
    said = f"the 90% intervals covered {coverage_90:.0%} of {n_runs} runs"
    if coverage_90 < low - 1e-9:
        return (f"over-confident: {said}, fewer than a true 90% interval would ({low:.0%} to {high:.0%}); do not "
                "quote its intervals this far out without widening them")
    if coverage_90 > high + 1e-9:
        return f"cautious: {said}, more than a true 90% interval would ({low:.0%} to {high:.0%}): honest but wide"
    return f"consistent: {said}, as a true 90% interval would ({low:.0%} to {high:.0%} in 99% of cases)"


def score_frame(result: dict[str, Any]) -> pd.DataFrame:
    """A score (:func:`score_runs`'s dict) as a table, one row per new run: its inputs, observed loss, predictive
    median, the central intervals per level (``lower_90``, ``upper_90``, ``covered_90``, ...) in nats per token and
    its decades beyond the fit's data; ``attrs`` hold the summary and the verdict."""
    rows = []
    for run in result["runs"]:
        row = {key: value for key, value in run.items() if key != "intervals"}
        for level, found in run["intervals"].items():
            tag = f"{round(100 * float(level))}"
            row.update({f"lower_{tag}": found["lower"], f"upper_{tag}": found["upper"],
                        f"covered_{tag}": found["covered"]})
        rows.append(row)
    frame = pd.DataFrame(rows).set_index("run")
    frame.attrs.update(summary=result["summary"], verdict=result["verdict"], includes=result["includes"],
                       converged=result["converged"])
    return frame
