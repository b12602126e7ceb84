"""The answer at the top of a fit's page: for each budget, the compute-optimal N, D, tokens per parameter and loss with
their intervals and their distance from the runs, in a sentence a person can paste into a planning document; and
the same numbers as ``plan.json`` and ``quantiles.csv`` beside the page.

The budgets are the ones asked for (``report --budgets``, ``fit --page --budgets``), else the analysis's ``[plan]
budgets``, else 1, 10 and 100 times the compute of its largest run: inside the data, one decade and two decades
beyond it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from markupsafe import Markup

from bayes_scaling.analysis.planning import plan, plan_frame
from bayes_scaling.report.templating import render
from bayes_scaling.result import FitResult
from bayes_scaling.util.defaults import DEFAULT_LEVEL
from bayes_scaling.util.numbers import count, interval_text

#: Multiples of the largest run's compute answered when no budgets are given.
DEFAULT_MULTIPLES = (1.0, 10.0, 100.0)


def answer_budgets(fit: FitResult, budgets: Sequence[float] = ()) -> tuple[float, ...]:
    """The budgets a page answers: ``budgets``, else the spec's ``[plan] budgets``, else :data:`DEFAULT_MULTIPLES`
    of the largest run's compute."""
    if budgets:
        return tuple(float(b) for b in budgets)
    spec = fit.attr_json("spec") if "spec" in fit.tree.attrs else {}
    if spec.get("plan_budgets"):
        return tuple(float(b) for b in spec["plan_budgets"])
    return multiples_of_largest(fit, DEFAULT_MULTIPLES)


def multiples_of_largest(fit: FitResult, multiples: Sequence[float]) -> tuple[float, ...]:
    """These multiples of the compute of the fit's largest run, to three significant figures."""
    largest = float(fit.runs["compute"].max())
    return tuple(float(f"{m * largest:.3g}") for m in multiples)


def answer_plan(fit: FitResult, budgets: Sequence[float] = ()) -> dict[str, Any] | None:
    """:func:`~bayes_scaling.analysis.planning.plan` at the page's budgets; for a law without an allocation, the plan
    without budgets (the fit's diagnostics, data extent and discrepancy)."""
    budgets = answer_budgets(fit, budgets) if fit.law.answers_allocation else ()
    return plan(fit, compute=list(budgets), level=DEFAULT_LEVEL)


def sentence(row: dict[str, Any], level: float) -> str:
    """One budget's answer as a sentence: N, D, tokens per parameter and loss with intervals, what they include and
    how far the budget is from the runs."""
    where = row["extrapolation"]["decades_compute"] or 0.0
    distance = ("within the compute range of the runs" if where <= 0
                else f"{where:.1f} decades of compute beyond the largest run")
    includes = ("law, discrepancy and extrapolation error" if row.get("law_only") else "the law alone")
    return (f"At {row['compute']:.3g} FLOP ({distance}), the compute-optimal model has "
            f"{interval_text(row['n_params'], style=count)} parameters trained on "
            f"{interval_text(row['n_tokens'], style=count)} tokens "
            f"({interval_text(row['tokens_per_param'])} tokens per parameter), reaching a loss of "
            f"{interval_text(row['loss'])} nats per token (median [{level:.0%} credible interval]; {includes}).")


def near_optimal_sentence(row: dict[str, Any]) -> str | None:
    """The near-optimal sizes of a budget's answer as a sentence, if it has them."""
    found = row.get("near_optimal")
    if not found:
        return None
    rule = (f"within {found['tolerance']['fraction']:.2%} of the best size's loss with probability at least "
            f"{found['probability']:.0%}")
    if not found["n_params"]:
        return f"No size keeps the loss {rule} at {row['compute']:.3g} FLOP: the optimum is too uncertain there."
    return (f"Any size from {count(found['n_params']['lower'])} to {count(found['n_params']['upper'])} parameters "
            f"keeps the loss {rule}.")


def answer_box(fit: FitResult, result: dict[str, Any] | None, figure: Markup | None = None) -> Markup:
    """The page's answer box (empty for a law without an allocation), with the excess-loss ``figure``."""
    if not result or not result.get("compute"):
        return Markup("")
    rows = [{"compute": f"{row['compute']:.3g}", "sentence": sentence(row, result["level"]),
             "near_optimal": near_optimal_sentence(row), "warning": row["extrapolation"]["warning"]}
            for row in result["compute"]]
    return render("fit/answer.html.j2", rows=rows, converged=fit.converged, figure=figure,
                  whole=any(row.get("law_only") for row in result["compute"]))


def quantiles_frame(fit: FitResult, result: dict[str, Any] | None) -> pd.DataFrame:
    """Every number of the answer box and the parameter table, one row each: ``section`` (``parameter`` or the
    plan's question), ``name``, ``value`` (the budget), ``answer``, median, lower, upper, level, unit and decades
    beyond the data."""
    parameters = fit.summary(DEFAULT_LEVEL)
    rows = [{"section": "parameter", "name": name, "value": None, "answer": "posterior", "median": row["median"],
             "lower": row["lower"], "upper": row["upper"], "level": DEFAULT_LEVEL, "unit": "", "decades_beyond": None}
            for name, row in parameters.iterrows()]
    frame = pd.DataFrame(rows)
    if result and result.get("compute"):
        planned = plan_frame(result).rename(columns={"question": "section", "quantity": "name"})
        planned["level"] = result["level"]
        frame = pd.concat([frame, planned[frame.columns]], ignore_index=True)
    return frame
