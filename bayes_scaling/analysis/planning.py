"""Planning answers from a fit: for budgets, model sizes and target losses, each quantity's median and interval.

The numbers are computed per posterior draw by :mod:`bayes_scaling.derived`, then summarised; the result is a plain
dict (what ``bayes-scaling plan --json`` prints).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.analysis.discrepancy_allocation import allocation_with_discrepancy
from bayes_scaling.derived import interval
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.result import FitResult
from bayes_scaling.util.defaults import DEFAULT_LEVEL


def summary(values: xr.DataArray, level: float) -> dict[str, float | None]:
    """``{"median", "lower", "upper"}`` of a scalar-per-draw quantity (None where every draw is NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        stats = interval(values, level)
    return {key: (None if np.isnan(v) else float(v)) for key, v in
            ((k, float(stats[k])) for k in ("median", "lower", "upper"))}


def _rows(dataset: xr.Dataset, dim: str, names: Sequence[str], level: float) -> list[dict[str, Any]]:
    rows = []
    for value in dataset[dim].values:
        point = dataset.sel({dim: value})
        row: dict[str, Any] = {dim: float(value)}
        row.update({name: summary(point[name], level) for name in names})
        rows.append(row)
    return rows


def _add_discrepancy_rows(fit: FitResult, rows: list[dict[str, Any]], compute: Sequence[float],
                          level: float) -> None:
    try:
        alloc = allocation_with_discrepancy(fit, compute)
    except LawNotApplicable:
        return
    names = ("n_params", "n_tokens", "tokens_per_param", "loss")
    for row, found in zip(rows, _rows(alloc, "compute", names, level), strict=True):
        missing = float(alloc["n_params"].sel(compute=row["compute"]).isnull().mean())
        row["with_discrepancy"] = {**{name: found[name] for name in names}, "no_minimum": missing}


def plan(
    fit: FitResult,
    *,
    compute: Sequence[float] = (),
    n_params: Sequence[float] = (),
    target_loss: Sequence[float] = (),
    level: float = DEFAULT_LEVEL,
    discrepancy: bool = True,
) -> dict[str, Any]:
    """Compute-optimal allocations for ``compute`` budgets, budgets for ``n_params`` sizes and the compute needed
    for ``target_loss``, each quantity as median and central ``level`` credible interval.

    With ``discrepancy`` (and a law of N and D), each budget's row also holds ``with_discrepancy``: the allocation
    allowing for the law's discrepancy along the IsoFLOP line, with the loss of that profile at its optimum
    (:func:`~bayes_scaling.analysis.discrepancy_allocation.allocation_with_discrepancy`), the intervals to quote when
    the budget lies beyond the runs, and ``no_minimum``, the share of draws whose profile had no minimum."""
    if not 0 < level < 1:
        raise ValueError(f"--level must be between 0 and 1, got {level}")
    out: dict[str, Any] = {
        "fit": str(fit.path) if fit.path else fit.name,
        "analysis": fit.name,
        "law": fit.law.name,
        "equation": fit.law.equation,
        "converged": fit.converged,
        "diagnostics": fit.diagnostics.verdict(),
        "level": level,
        "discrepancy": {"description": fit.discrepancy.describe(), "collapsed": fit.discrepancy.collapsed},
        "weakly_identified": fit.weakly_identified,
    }
    try:
        exps = fit.exponents()
        out["exponents"] = {name: summary(exps[name], level) for name in ("a", "b")}
    except LawNotApplicable:
        out["exponents"] = None
    if compute:
        alloc = fit.optimal_allocation(compute)
        out["compute"] = _rows(alloc, "compute", ("n_params", "n_tokens", "tokens_per_param", "loss"), level)
        if discrepancy:
            _add_discrepancy_rows(fit, out["compute"], compute, level)
    if n_params:
        budgets = fit.optimal_for_params(n_params)
        out["params"] = _rows(budgets, "n_params", ("compute", "n_tokens", "tokens_per_param", "loss"), level)
    if target_loss:
        needed = fit.compute_for_loss(target_loss)
        rows = _rows(needed, "target_loss", ("compute", "n_params", "n_tokens"), level)
        for row, value in zip(rows, needed["target_loss"].values, strict=True):
            row["probability_reachable"] = float(needed["reachable"].sel(target_loss=value).mean())
        out["target_loss"] = rows
    return out


#: The unit of each quantity a plan reports.
UNITS = {"n_params": "parameters", "n_tokens": "tokens", "tokens_per_param": "tokens per parameter",
         "loss": "nats per token", "compute": "FLOP"}
#: The question each part of a plan answers, by its key.
QUESTIONS = {"compute": "budget", "params": "model size", "target_loss": "target loss"}


def plan_frame(result: dict[str, Any]) -> pd.DataFrame:
    """A plan (:func:`plan`'s dict) as a tidy table: one row per question (``budget``, ``model size``, ``target
    loss``), its ``value``, the ``quantity`` answered, the ``answer`` it comes from (``law`` alone, or ``with
    discrepancy`` along the IsoFLOP line, the one to quote beyond the runs), its median and central interval and
    unit. ``attrs`` hold the level, the fit's convergence and diagnostics."""
    rows = []
    for key, question in QUESTIONS.items():
        for row in result.get(key) or []:
            value = row["compute" if key == "compute" else "n_params" if key == "params" else "target_loss"]
            answers = [("law", row)] + ([("with discrepancy", row["with_discrepancy"])]
                                        if row.get("with_discrepancy") else [])
            for answer, values in answers:
                for quantity, unit in UNITS.items():
                    found = values.get(quantity)
                    if not isinstance(found, dict) or (key != "compute" and quantity == question):
                        continue
                    rows.append({"question": question, "value": value, "quantity": quantity, "answer": answer,
                                 **found, "unit": unit})
    frame = pd.DataFrame(rows, columns=["question", "value", "quantity", "answer", "median", "lower", "upper",
                                        "unit"])
    frame.attrs.update(level=result["level"], converged=result["converged"], diagnostics=result["diagnostics"],
                       weakly_identified=result.get("weakly_identified", []))
    return frame
