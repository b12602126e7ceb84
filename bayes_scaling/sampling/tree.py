"""Assemble a fit's DataTree: posterior (natural-scale parameters), sample_stats, observed_data, constant_data,
log_likelihood and posterior_predictive, with attrs recording how it was made.

Log-likelihood and posterior predictive draws come from the likelihood's numpy density and sampler applied to the
law's pure function, so nothing is compiled after sampling.
"""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

import numpy as np
import xarray as xr

from bayes_scaling.data.runs import CANONICAL, RunTable
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.laws.inputs import INPUTS
from bayes_scaling.sampling import budget_term
from bayes_scaling.sampling.diagnostics import Diagnostics
from bayes_scaling.sampling.gp_term import (
    COEFFICIENTS,
    GPTerm,
    coefficient_draws,
    declared_priors,
    delta_at,
    hyperparameter_names,
)
from bayes_scaling.sampling.model import OBSERVED, RUN_DIM, BuiltModel, natural_parameters
from bayes_scaling.sampling.sampler import SamplingResult

VERSIONED = ("bayes_scaling", "pymc", "pytensor", "nutpie", "arviz-base", "arviz-stats", "xarray", "numpy")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a fit depends on."""
    out = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_inputs(runs: RunTable) -> xr.Dataset:
    """The runs' canonical columns (and ``budget`` where the data name one) as a Dataset over ``run`` (the
    source's 1-based row numbers)."""
    coords = {RUN_DIM: runs.frame["row"].to_numpy()}
    names = [name for name in (*CANONICAL, "budget") if name in runs.frame]
    units = {**{name: item.unit for name, item in INPUTS.items()}, "loss": "nats per token", "budget": "FLOP"}
    return xr.Dataset({name: (RUN_DIM, runs.column(name), {"units": units[name]}) for name in names}, coords=coords)


#: Most values (chains x draws x runs) each per-run group (log-likelihood, posterior predictive) stores: a fit of more
#: runs keeps evenly spaced draws there (at 100,000 runs and 4 chains, 62 a chain: enough for PSIS-LOO and
#: predictive checks, 100 MB a group in single precision), while its posterior keeps every draw.
MOST_STORED = 25_000_000


def stored_draws(chains: int, draws: int, runs: int) -> np.ndarray:
    """Indices of the draws the per-run groups keep: all, or :data:`MOST_STORED` / (chains x runs) evenly spaced."""
    keep = max(1, min(draws, MOST_STORED // max(1, chains * runs)))
    return np.unique(np.linspace(0, draws - 1, keep).round().astype(int))


def posterior_parameters(built: BuiltModel, draws: xr.Dataset) -> xr.Dataset:
    """Law parameters on the natural scale (declaration order), then noise parameters, then sampler coordinates."""
    natural = natural_parameters(built, draws)
    ordered = {name: natural[name] for name in built.law.parameters}
    ordered.update({name: draws[name] for name in built.named_parameters if name not in ordered})
    if built.budgets is not None:
        ordered[budget_term.OFFSET] = budget_term.natural_offsets(draws)
    ordered.update({name: draws[name] for name in draws.data_vars if name not in ordered})
    return xr.Dataset(ordered)


def derived_exponents(law, posterior: xr.Dataset) -> dict[str, xr.DataArray]:
    """The allocation exponents a (N_opt ~ C^a) and b (D_opt ~ C^b) per draw, where the law defines them and they are
    not among its parameters, each with the formula it was derived by (so that ``az.summary`` shows them)."""
    try:
        found = law.allocation_exponents(**{name: posterior[name] for name in law.parameters})
    except LawNotApplicable:
        return {}
    formula = " ".join((type(law).allocation_exponents.__doc__ or "").split())
    return {name: xr.DataArray(value).assign_attrs(description=f"derived, not sampled: {formula}")
            for name, value in found.items() if name not in law.parameters}


def gp_at_runs(gp: GPTerm, kept: xr.Dataset, columns: dict[str, np.ndarray], mu: xr.DataArray,
               observed: np.ndarray, rng: np.random.Generator) -> xr.DataArray:
    """The discrepancy delta at the runs per kept draw, drawn from its conditional given the draw's residuals (the
    sampler integrated its coefficients out), shaped like the law's log loss ``mu`` (chain, draw, run)."""
    flat = {name: kept[name].to_numpy().reshape(-1) for name in hyperparameter_names(gp)}
    residuals = observed[None, :] - mu.to_numpy().reshape(-1, mu.shape[-1])
    flat[COEFFICIENTS] = coefficient_draws(gp, flat, columns, residuals, kept["sigma"].to_numpy().reshape(-1), rng)
    return mu.copy(data=delta_at(gp, flat, columns).reshape(mu.shape))


def build_tree(
    built: BuiltModel,
    sampled: SamplingResult,
    posterior: xr.Dataset,
    runs: RunTable,
    *,
    seed: int,
    diagnostics: Diagnostics,
    attrs: dict[str, Any],
    extra_groups: dict[str, xr.Dataset] | None = None,
) -> xr.DataTree:
    """The complete fit as an ``xarray.DataTree`` with ArviZ group names; ``posterior`` holds the law's and the
    noise's parameters on the natural scale (:func:`posterior_parameters`), ``unconstrained_posterior`` the sampler's
    own coordinates; ``extra_groups`` (the prior and prior predictive) are added as they are."""
    inputs = run_inputs(runs)
    named = built.named_parameters
    kept = posterior.isel(draw=stored_draws(posterior.sizes["chain"], posterior.sizes["draw"], len(runs)))
    params = {name: kept[name] for name in named}
    internal = [name for name in posterior.data_vars  # the sampler's centred coordinates
                if name not in named and name != budget_term.OFFSET]
    law_inputs = {name: inputs[name] for name in built.law.inputs}
    mu = np.log(built.law.loss(**law_inputs, **{k: params[k] for k in built.law.parameters}))
    mu = mu.transpose("chain", "draw", RUN_DIM)
    noise = {name: params[name] for name in built.likelihood.parameters}
    observed = np.log(inputs["loss"])
    if built.budgets is not None:  # each run's budget offset is part of its location
        mu = mu + mu.copy(data=budget_term.at_runs(kept[budget_term.OFFSET].to_numpy(), built.budgets.labels))
        inputs = inputs.assign({budget_term.LABELS: (RUN_DIM, built.budgets.labels)})
    if built.gp is not None:  # the discrepancy sampled with the law is part of the location at the runs
        mu = mu + gp_at_runs(built.gp, kept, {name: runs.column(name) for name in built.law.inputs}, mu,
                             observed.to_numpy(), np.random.default_rng([seed, 2]))
    log_lik = built.likelihood.logpdf(observed, mu, **noise).transpose("chain", "draw", RUN_DIM)
    rng = np.random.default_rng([seed, 1])
    noise_arrays = {name: value.to_numpy()[..., None] for name, value in noise.items()}
    predictive = built.likelihood.sample(rng, mu.to_numpy(), **noise_arrays)
    groups = {
        "posterior": posterior[[*named, *([] if built.budgets is None else [budget_term.OFFSET])]].assign(
            derived_exponents(built.law, posterior)),
        "unconstrained_posterior": posterior[internal],
        "sample_stats": sampled.sample_stats,
        "observed_data": xr.Dataset({OBSERVED: observed}),
        "constant_data": inputs,
        # per-run draws in single precision (1e-7 relative: far below any score's resolution), half the file
        "log_likelihood": xr.Dataset({OBSERVED: log_lik.astype(np.float32)}),
        "posterior_predictive": xr.Dataset({OBSERVED: (mu.dims, predictive.astype(np.float32))}, coords=mu.coords),
        **(extra_groups or {}),
    }
    tree = xr.DataTree.from_dict({f"/{name}": ds for name, ds in groups.items()})
    tree.attrs.update(
        {
            "bayes_scaling_format": 1,
            "law": built.law.name,
            "law_equation": built.law.equation,
            "likelihood": built.likelihood.name,
            "geometry": built.geometry,
            "discrepancy_gp": "after" if built.gp is None else "in_model",
            "budget_effect": "none" if built.budgets is None else f"per budget ({built.budgets.count} budgets)",
            "priors": json.dumps({name: prior.to_mapping() for name, prior in
                                  {**built.priors, **({} if built.gp is None else declared_priors(built.gp)),
                                   **({} if built.budgets is None else {budget_term.SD: budget_term.prior()})
                                   }.items()}),
            "data_source": json.dumps(runs.source),
            "n_counts_embeddings": json.dumps(runs.n_counts_embeddings),
            "filters": json.dumps(list(runs.filters)),
            "n_runs": len(runs),
            "seed": seed,
            "versions": json.dumps(package_versions()),
            "diagnostics": diagnostics.to_json(),
            "converged": int(diagnostics.converged),
            "compile_seconds": round(sampled.compile_seconds, 3),
            "sampling_seconds": round(sampled.sampling_seconds, 3),
            **attrs,
        }
    )
    return tree
