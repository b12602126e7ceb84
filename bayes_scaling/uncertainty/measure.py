"""A whole fit: sample the law (:mod:`bayes_scaling.sampling`), then measure its discrepancy GP on the posterior's
residuals and the drift by leave-future-out refits of the compiled model, and store both with the fit."""

from __future__ import annotations

import dataclasses
import time

import xarray as xr

from bayes_scaling.sampling.run import PreparedFit, sample_prepared
from bayes_scaling.sampling.tree import run_inputs
from bayes_scaling.uncertainty.discrepancy import fit_discrepancy
from bayes_scaling.uncertainty.drift import measure_drift
from bayes_scaling.uncertainty.extrapolation import ExtrapolationPrior


def fit_with_uncertainty(prepared: PreparedFit, *, progress: bool = False, prior: ExtrapolationPrior | None = None,
                         refits: bool = True) -> xr.DataTree:
    """Sample a prepared fit and return its DataTree with the discrepancy (GP and extrapolation) in
    ``attrs['discrepancy']`` and the diagnostics in ``attrs['diagnostics']``. The extrapolation uses the packaged
    cross-suite prior for the law unless ``prior`` is given; without ``refits`` it is the prior alone (no own
    leave-future-out errors)."""
    start = time.perf_counter()
    sampled = sample_prepared(prepared, progress=progress)
    law = prepared.law
    draws = {name: sampled.natural[name].to_numpy().reshape(-1) for name in law.parameters}
    found = fit_discrepancy(law, draws, run_inputs(prepared.runs))
    found = dataclasses.replace(found, **measure_drift(prepared, sampled.built, sampled.compiled, found.eta, prior,
                                                       refits=refits))
    tree = sampled.tree
    tree.attrs["discrepancy"] = found.to_json()
    tree.attrs["fit_seconds"] = round(time.perf_counter() - start, 3)
    return tree

