"""Comparing two fits: their compute-optimal allocations at the same budgets (with the ratio and P(a_1 > a_2) from
paired draws) and, for two laws fitted to the same runs, PSIS-LOO expected log predictive density.

Everything is computed from posterior draws. The fits are independent posteriors, so quantities of both are formed
on draws paired after a seeded shuffle (:mod:`bayes_scaling.analysis.pairing`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from typing import Any

import arviz_stats as azs
import numpy as np
import xarray as xr

from bayes_scaling.analysis.pairing import paired
from bayes_scaling.analysis.planning import summary
from bayes_scaling.result import FitResult
from bayes_scaling.sampling.diagnostics import psis_loo
from bayes_scaling.util.defaults import DEFAULT_LEVEL, PARETO_K_BAD

log = logging.getLogger(__name__)



def _pairs(first: FitResult, second: FitResult, compute: np.ndarray, seed: int) -> tuple[dict, dict]:
    """Paired draws of a, N_opt(C) and D_opt(C) of both fits (over ``sample`` and ``compute``)."""
    def quantities(fit: FitResult) -> dict[str, xr.DataArray]:
        alloc = fit.optimal_allocation(compute)
        return {"a": fit.exponents()["a"], "n_params": alloc["n_params"], "n_tokens": alloc["n_tokens"]}

    return paired(quantities(first), quantities(second), seed=seed)


def allocation_comparison(first: FitResult, second: FitResult, compute: Iterable[float], *, seed: int = 0,
                          level: float = DEFAULT_LEVEL) -> dict[str, Any]:
    """N_opt, D_opt and tokens per parameter of each fit at each budget, the ratio first / second of N_opt (and of
    D_opt) with a credible interval, and P(a_first > a_second), as plain floats.

    Returns
    -------
    dict with ``probability_a_first_greater`` (over ``draws`` paired draws), ``a`` (summaries ``first``,
    ``second``, ``difference``) and ``budgets``: one dict per budget with ``compute`` and summaries
    ``n_params_first``, ``n_params_second``, ``n_tokens_first``, ``n_tokens_second``, ``tokens_per_param_first``,
    ``tokens_per_param_second``, ``n_params_ratio``, ``n_tokens_ratio``.
    """
    compute = np.atleast_1d(np.asarray(compute, dtype=float))
    one, two = _pairs(first, second, compute, seed)
    rows = []
    for c in compute:
        at = {"compute": float(c)}
        sel = {name: {k: v.sel(compute=c) for k, v in group.items() if k != "a"}
               for name, group in (("first", one), ("second", two))}
        for name, group in sel.items():
            at[f"n_params_{name}"] = _summary(group["n_params"], level)
            at[f"n_tokens_{name}"] = _summary(group["n_tokens"], level)
            at[f"tokens_per_param_{name}"] = _summary(group["n_tokens"] / group["n_params"], level)
        at["n_params_ratio"] = _summary(sel["first"]["n_params"] / sel["second"]["n_params"], level)
        at["n_tokens_ratio"] = _summary(sel["first"]["n_tokens"] / sel["second"]["n_tokens"], level)
        rows.append(at)
    return {
        "first": first.name, "second": second.name, "level": level, "seed": seed, "draws": int(one["a"].size),
        "probability_a_first_greater": float((one["a"] > two["a"]).mean()),
        "a": {"first": _summary(one["a"], level), "second": _summary(two["a"], level),
              "difference": _summary(one["a"] - two["a"], level)},
        "budgets": rows,
    }


def _summary(values: xr.DataArray, level: float) -> dict[str, float | None]:
    """Median and central interval over the ``sample`` dim."""
    return summary(values.rename({"sample": "draw"}).expand_dims("chain"), level)


def same_observations(first: FitResult, second: FitResult) -> bool:
    """Whether both fits scored the same runs (same row labels and observed values), so their ELPDs compare."""
    a, b = first.tree["observed_data"].to_dataset(), second.tree["observed_data"].to_dataset()
    name = next(iter(a.data_vars))
    if name not in b or a[name].shape != b[name].shape:
        return False
    return bool(np.array_equal(a["run"].values, b["run"].values) and np.allclose(a[name].values, b[name].values))


def loo_comparison(first: FitResult, second: FitResult) -> dict[str, Any]:
    """PSIS-LOO of two fits of the same runs: each ELPD with its SE, the difference first - second with the SE of
    the pointwise differences (ArviZ's ``compare``: sqrt(n) times their standard deviation), and each fit's Pareto-k
    diagnostics.

    Raises
    ------
    ValueError
        If the fits did not score the same observations (their ELPDs would not compare).
    """
    if not same_observations(first, second):
        raise ValueError(f"{first.name} and {second.name} were not fitted to the same runs; their ELPDs do not "
                         "compare")
    out: dict[str, Any] = {"first": first.name, "second": second.name}
    results = {}
    for key, fit in (("first", first), ("second", second)):
        result = results[key] = psis_loo(fit.tree)
        k = np.asarray(result.pareto_k).ravel()
        out[key + "_loo"] = {"elpd": float(result.elpd), "se": float(result.se), "p_loo": float(result.p),
                             "k_over_0_7": int(np.sum(k > PARETO_K_BAD)), "k_max": float(np.nanmax(k)),
                             "n_points": int(k.size)}
    with warnings.catch_warnings():  # the Pareto k are counted above and shown on the pages
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        table = azs.compare(results, round_to="none")  # ArviZ: the worse fit's elpd_diff and dse against the best
    worse = table.index[-1]
    sign = -1.0 if worse == "first" else 1.0
    out["elpd_difference"] = sign * abs(float(table.loc[worse, "elpd_diff"]))
    out["se_difference"] = float(table.loc[worse, "dse"])
    return out
