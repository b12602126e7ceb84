"""A whole fit: sample the law (:mod:`bayes_scaling.sampling`), then measure its discrepancy GP on the posterior's
residuals (or read the GP sampled with the law, ``[discrepancy] gp = "in_model"``) and the drift by leave-future-out
refits of the compiled model, and store both with the fit."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import xarray as xr

from bayes_scaling.sampling import budget_term
from bayes_scaling.sampling.gp_term import ETA, length_name
from bayes_scaling.sampling.run import PreparedFit, sample_prepared
from bayes_scaling.sampling.tree import run_inputs
from bayes_scaling.uncertainty.discrepancy import fit_discrepancy, sampled_discrepancy
from bayes_scaling.uncertainty.drift import measure_drift
from bayes_scaling.uncertainty.extrapolation import ExtrapolationPrior


def run_offsets(built, natural: xr.Dataset) -> np.ndarray | None:
    """Each run's budget offset per draw (draws x runs), or None for a model without them."""
    if built.budgets is None:
        return None
    return budget_term.draws_at_runs(natural[budget_term.OFFSET].to_numpy(), built.budgets.labels)


def fit_with_uncertainty(prepared: PreparedFit, *, progress: bool = False, prior: ExtrapolationPrior | None = None,
                         refits: bool = True) -> xr.DataTree:
    """Sample a prepared fit and return its DataTree with the discrepancy (GP and extrapolation) in
    ``attrs['discrepancy']`` and the diagnostics in ``attrs['diagnostics']``. The extrapolation uses the packaged
    cross-suite prior for the law unless ``prior`` is given; without ``refits`` it is the prior alone (no own
    leave-future-out errors)."""
    start = time.perf_counter()
    sampled = sample_prepared(prepared, progress=progress)
    law = prepared.law
    flat = {name: value.to_numpy().reshape(-1) for name, value in sampled.natural.data_vars.items()
            if value.dims == ("chain", "draw")}
    if sampled.built.gp is None:
        found = fit_discrepancy(law, {name: flat[name] for name in law.parameters}, run_inputs(prepared.runs),
                                run_offsets(sampled.built, sampled.natural))
    else:  # sampled with the law: its medians krige each draw's residuals (which carry the draw's own GP)
        spread = float(np.median(prepared.likelihood.spread(**{k: flat[k] for k in prepared.likelihood.parameters})))
        found = sampled_discrepancy(law.inputs, flat[ETA], {name: flat[length_name(name)] for name in law.inputs},
                                    spread, len(prepared.runs))
    found = dataclasses.replace(found, **measure_drift(prepared, sampled.built, sampled.compiled, found.eta, prior,
                                                       refits=refits, start_from=sampled.warm_start))
    tree = sampled.tree
    tree.attrs["discrepancy"] = found.to_json()
    tree.attrs["fit_seconds"] = round(time.perf_counter() - start, 3)
    return tree

