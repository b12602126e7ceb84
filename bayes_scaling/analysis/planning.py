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

from bayes_scaling.analysis.choice_cost import (
    DEFAULT_PROBABILITY,
    DEFAULT_TOLERANCE,
    choice_cost,
    excess_loss,
    near_optimal,
)
from bayes_scaling.analysis.discrepancy_allocation import allocation_with_discrepancy
from bayes_scaling.analysis.inference_aware import inference_aware
from bayes_scaling.analysis.reach import compute_to_reach
from bayes_scaling.derived import interval
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.result import FitResult
from bayes_scaling.util.defaults import DEFAULT_LEVEL

#: Version of the JSON shape :func:`plan` returns (``bayes-scaling plan --json``). 2: one interval per quantity
#: (the whole predictive where the law has one, ``law_only`` beside it), ``level`` in every interval,
#: ``extrapolation`` per answer.
SCHEMA_VERSION = 2
#: Beyond this many decades of compute past the largest run, a plan warns: 99% of the held-out errors the
#: extrapolation error was learned from (``scripts/extrapolation_errors.py``: fits 0.5, 1 and 1.5 decades below each
#: suite's top budget) lie within 1.5 decades of their fit's data, so further out its linear growth is assumed, not
#: checked by any held-out run.
VALIDATED_DECADES = 1.5
#: What an answer includes.
WHOLE = ("law, its discrepancy along the IsoFLOP line (GP) and the extrapolation error beyond the data learned "
         "across published sweeps (N_opt and loss); without run-to-run noise")
LAW_ONLY = "the law alone (its parameters' posterior): no discrepancy or extrapolation error"
#: The same for a fit whose discrepancy GP was sampled with the law: its parameters carry the misfit.
LAW_ONLY_IN_MODEL = ("the law alone (its parameters' posterior, sampled with the discrepancy GP, so they carry the "
                     "misfit): no discrepancy at the point asked, no extrapolation error")


def law_only(fit: FitResult) -> str:
    """What an answer of the law alone includes, for this fit (:data:`LAW_ONLY` or :data:`LAW_ONLY_IN_MODEL`)."""
    return LAW_ONLY_IN_MODEL if fit.discrepancy.fitted == "in_model" else LAW_ONLY
ALLOCATION = ("n_params", "n_tokens", "tokens_per_param", "loss")


def summary(values: xr.DataArray, level: float) -> dict[str, float | None]:
    """``{"median", "lower", "upper", "level"}`` of a scalar-per-draw quantity (None where every draw is NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        stats = interval(values, level)
    found: dict[str, float | None] = {key: (None if np.isnan(v) else float(v)) for key, v in
                                      ((k, float(stats[k])) for k in ("median", "lower", "upper"))}
    found["level"] = level
    return found


def _rows(dataset: xr.Dataset, dim: str, names: Sequence[str], level: float) -> list[dict[str, Any]]:
    rows = []
    for value in dataset[dim].values:
        point = dataset.sel({dim: value})
        row: dict[str, Any] = {dim: float(value)}
        row.update({name: summary(point[name], level) for name in names})
        rows.append(row)
    return rows


def data_extent(fit: FitResult) -> dict[str, float]:
    """The largest compute (FLOP), N and D among the runs the fit saw."""
    runs = fit.runs
    return {f"largest_{name}": float(runs[name].max()) for name in ("compute", "n_params", "n_tokens")
            if name in runs}


def extrapolation(extent: dict[str, float], **values: float | None) -> dict[str, Any]:
    """Decades beyond the data's largest compute, N and D (0 inside; None where unknown) of an answer's point, and
    a ``warning`` beyond :data:`VALIDATED_DECADES` of compute."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        largest = extent.get(f"largest_{name}")
        out[f"decades_{name}"] = (None if value is None or largest is None
                                  else round(max(0.0, float(np.log10(value / largest))), 3))
    beyond = out.get("decades_compute") or 0.0
    out["warning"] = (f"{beyond:.1f} decades of compute beyond the largest run: further than the extrapolation "
                      f"error was checked ({VALIDATED_DECADES} decades); treat the interval as a lower bound on the "
                      "uncertainty" if beyond > VALIDATED_DECADES else None)
    return out


def _choices(fit: FitResult, compute: float, n_params: Sequence[float], level: float, discrepancy: bool,
             tolerance: float, probability: float, centre: float | None = None) -> dict[str, Any]:
    """The near-optimal sizes at a budget and the cost of the chosen ones (:mod:`~bayes_scaling.analysis.choice_cost`),
    from the same predictive as the budget's answer; ``centre``: the law's median N_opt there, if known."""
    found = excess_loss(fit, compute, discrepancy=discrepancy, centre=centre)
    out: dict[str, Any] = {"near_optimal": near_optimal(found, tolerance, probability)}
    if n_params:
        out["choices"] = [choice_cost(found, n, level) for n in n_params]
    return out


def _budget_rows(fit: FitResult, compute: Sequence[float], level: float, discrepancy: bool,
                 extent: dict[str, float], n_params: Sequence[float] = (), tolerance: float = DEFAULT_TOLERANCE,
                 probability: float = DEFAULT_PROBABILITY) -> list[dict[str, Any]]:
    """One answer per budget: the whole predictive's allocation where the law has one, else the law's, labelled;
    with the sizes within ``tolerance`` of the best loss with ``probability``, and the cost of ``n_params``."""
    law_rows = _rows(fit.optimal_allocation(compute), "compute", ALLOCATION, level)
    whole = None
    if discrepancy:
        try:
            whole = allocation_with_discrepancy(fit, compute)
        except LawNotApplicable:
            whole = None
    rows = []
    for k, law_row in enumerate(law_rows):
        if whole is None:
            row = {**law_row, "includes": law_only(fit)}
        else:
            found = _rows(whole.isel(compute=[k]), "compute", ALLOCATION, level)[0]
            missing = float(whole["n_params"].isel(compute=k).isnull().mean())
            row = {**found, "includes": WHOLE, "no_minimum": missing,
                   "law_only": {**{name: law_row[name] for name in ALLOCATION}, "includes": law_only(fit)}}
        row["extrapolation"] = extrapolation(extent, compute=row["compute"], n_params=row["n_params"]["median"],
                                             n_tokens=row["n_tokens"]["median"])
        try:
            row.update(_choices(fit, row["compute"], n_params, level, whole is not None, tolerance, probability,
                                centre=law_row["n_params"]["median"]))
        except LawNotApplicable:  # no IsoFLOP line to move along
            pass
        rows.append(row)
    return rows


def _reach(fit: FitResult, target: float, probability: float, discrepancy: bool,
           extent: dict[str, float]) -> dict[str, Any]:
    """The smallest compute reaching ``target`` with ``probability`` (:mod:`~bayes_scaling.analysis.reach`): through
    the whole predictive where the law has an IsoFLOP line, else the law alone; ``includes`` says which, and
    ``extrapolation`` how far that compute (or the one that came closest) lies beyond the data."""
    found = None
    if discrepancy:
        try:
            found = {**compute_to_reach(fit, target, probability), "includes": WHOLE}
        except LawNotApplicable:
            pass
    if found is None:
        found = {**compute_to_reach(fit, target, probability, discrepancy=False), "includes": law_only(fit)}
    where = found["compute"] if found["reachable"] else found.get("at_compute")
    found["extrapolation"] = None if where is None else extrapolation(extent, compute=where)
    return found


def _inference(fit: FitResult, target: float, inference_tokens: float, level: float) -> dict[str, Any] | None:
    """The inference-aware size for a target loss, each quantity as an interval (law alone), or None for a law
    without N and D."""
    try:
        found = inference_aware(fit, target, inference_tokens)
    except LawNotApplicable:
        return None
    names = ("n_params", "n_tokens", "tokens_per_param", "training_compute", "total_compute", "saving")
    return {"inference_tokens": inference_tokens, **{name: summary(found[name], level) for name in names},
            "includes": law_only(fit), "at_grid_edge": found.attrs["at_grid_edge"]}


def _floor_text(fit: FitResult, level: float) -> str | None:
    """The law's irreducible loss as ``E = 1.81 [1.78, 1.83]``, if it has one."""
    floor = getattr(fit.law, "floor", None)
    if not floor or floor not in fit.posterior:
        return None
    found = summary(fit.posterior[floor], level)
    return f"{floor} = {found['median']:.3g} [{found['lower']:.3g}, {found['upper']:.3g}]"


def plan(
    fit: FitResult,
    *,
    compute: Sequence[float] = (),
    n_params: Sequence[float] = (),
    target_loss: Sequence[float] = (),
    level: float = DEFAULT_LEVEL,
    discrepancy: bool = True,
    tolerance: float = DEFAULT_TOLERANCE,
    probability: float = DEFAULT_PROBABILITY,
    inference_tokens: float | None = None,
) -> dict[str, Any]:
    """Compute-optimal allocations for ``compute`` budgets, budgets for ``n_params`` sizes and the compute needed
    for ``target_loss``: one answer per question, each quantity as median and central ``level`` interval.

    A budget's answer comes from the whole predictive where the law has an IsoFLOP line (``includes`` says so):
    the allocation allowing for the law's discrepancy and the extrapolation error beyond the data
    (:func:`~bayes_scaling.analysis.discrepancy_allocation.allocation_with_discrepancy`), with the law alone beside
    it as ``law_only`` and ``no_minimum``, the share of draws whose profile had no minimum. Sizes and target
    losses are answered by the law alone, and say so. Every answer has ``extrapolation``: decades beyond the
    data's largest compute, N and D, with a warning past :data:`VALIDATED_DECADES`. A budget's answer also has
    ``near_optimal``, the sizes whose excess loss over the best size stays within ``tolerance`` (a fraction of the
    loss) with ``probability``, and with ``n_params`` given, ``choices``: the excess loss of training each of those
    sizes at the budget (:mod:`~bayes_scaling.analysis.choice_cost`). A target loss's answer has
    ``with_probability``: the smallest compute whose compute-optimal loss is at most the target with ``probability``
    (:mod:`~bayes_scaling.analysis.reach`); with ``inference_tokens``, ``inference_aware``: the N and D that reach it
    with the least training plus inference compute (:mod:`~bayes_scaling.analysis.inference_aware`)."""
    if not 0 < level < 1:
        raise ValueError(f"--level must be between 0 and 1, got {level}")
    extent = data_extent(fit)
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "fit": str(fit.path) if fit.path else fit.name,
        "analysis": fit.name,
        "law": fit.law.name,
        "equation": fit.law.equation,
        "converged": fit.converged,
        "diagnostics": fit.diagnostics.verdict(),
        "level": level,
        "units": UNITS,
        "data": extent,
        "discrepancy": {"description": fit.discrepancy.describe(), "collapsed": fit.discrepancy.collapsed},
        "weakly_identified": fit.weakly_identified,
    }
    try:
        exps = fit.exponents()
        out["exponents"] = {name: summary(exps[name], level) for name in ("a", "b")}
        out["exponents"]["includes"] = law_only(fit)
    except LawNotApplicable:
        out["exponents"] = None
    if compute:
        out["compute"] = _budget_rows(fit, compute, level, discrepancy, extent, n_params, tolerance, probability)
    if n_params:
        budgets = fit.optimal_for_params(n_params)
        rows = _rows(budgets, "n_params", ("compute", "n_tokens", "tokens_per_param", "loss"), level)
        for row in rows:
            row["includes"] = law_only(fit)
            row["extrapolation"] = extrapolation(extent, compute=row["compute"]["median"], n_params=row["n_params"],
                                                 n_tokens=row["n_tokens"]["median"])
        out["params"] = rows
    if target_loss:
        needed = fit.compute_for_loss(target_loss)
        rows = _rows(needed, "target_loss", ("compute", "n_params", "n_tokens"), level)
        floor = _floor_text(fit, level)
        for row, value in zip(rows, needed["target_loss"].values, strict=True):
            reachable = float(needed["reachable"].sel(target_loss=value).mean())
            row["probability_reachable"] = reachable
            row["includes"] = law_only(fit)
            row["extrapolation"] = extrapolation(extent, compute=row["compute"]["median"],
                                                 n_params=row["n_params"]["median"],
                                                 n_tokens=row["n_tokens"]["median"])
            row["below_floor"] = (f"the target is below the law's floor {floor} in {1 - reachable:.0%} of draws"
                                  if floor and reachable < 1 else None)
            row["with_probability"] = _reach(fit, float(value), probability, discrepancy, extent)
            if inference_tokens is not None:
                row["inference_aware"] = _inference(fit, float(value), inference_tokens, level)
        out["target_loss"] = rows
    return out


#: The unit of each quantity a plan reports.
UNITS = {"n_params": "parameters", "n_tokens": "tokens", "tokens_per_param": "tokens per parameter",
         "loss": "nats per token", "compute": "FLOP"}
#: The question each part of a plan answers, by its key.
QUESTIONS = {"compute": "budget", "params": "model size", "target_loss": "target loss"}


def plan_frame(result: dict[str, Any]) -> pd.DataFrame:
    """A plan (:func:`plan`'s dict) as a tidy table: one row per question (``budget``, ``model size``, ``target
    loss``), its ``value``, the ``quantity`` answered, the ``answer`` it comes from (``whole``: law, discrepancy
    and extrapolation error, the one to quote; or ``law only``), its median, central interval, unit and decades of
    compute beyond the data. ``attrs`` hold the level, the fit's convergence and diagnostics."""
    rows = []
    for key, question in QUESTIONS.items():
        for row in result.get(key) or []:
            value = row["compute" if key == "compute" else "n_params" if key == "params" else "target_loss"]
            answers = [("whole" if row.get("law_only") else "law only", row)] + (
                [("law only", row["law_only"])] if row.get("law_only") else [])
            for answer, values in answers:
                for quantity, unit in UNITS.items():
                    found = values.get(quantity)
                    if not isinstance(found, dict) or (key != "compute" and quantity == question):
                        continue
                    rows.append({"question": question, "value": value, "quantity": quantity, "answer": answer,
                                 **{k: found[k] for k in ("median", "lower", "upper")}, "unit": unit,
                                 "decades_beyond": row["extrapolation"]["decades_compute"]})
    frame = pd.DataFrame(rows, columns=["question", "value", "quantity", "answer", "median", "lower", "upper",
                                        "unit", "decades_beyond"])
    frame.attrs.update(level=result["level"], converged=result["converged"], diagnostics=result["diagnostics"],
                       weakly_identified=result.get("weakly_identified", []))
    return frame
