"""Shared fixtures: the published data location, simulated runs, and tiny synthetic fits built without sampling."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from bayes_scaling.data.runs import RunTable, validate_table
from bayes_scaling.laws import get_law
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.validation.simulate import isoflop_design, simulate_runs

REPO = Path(__file__).resolve().parents[1]
#: The tests' own cache folder (datasets come from BAYES_SCALING_DATA): PyTensor's rewritten graphs that fits store
#: (sampling/rewrite_cache.py) go there, not into the user's cache, and are shared by the session's fits and workers.
os.environ["BAYES_SCALING_CACHE"] = _CACHE = tempfile.mkdtemp(prefix="bayes_scaling_tests_")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_CACHE, ignore_errors=True)
TRUE_PARAMS = {"E": 1.8, "A": 450.0, "B": 1800.0, "alpha": 0.34, "beta": 0.36}
TRUE_NOISE = {"sigma": 0.01, "nu": 5.0}


def _shared_data() -> Path | None:
    for candidate in (os.environ.get("BAYES_SCALING_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "epoch-chinchilla").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The published datasets (CI sets BAYES_SCALING_DATA; a checkout beside ../shared works too)."""
    path = _shared_data()
    if path is None:
        pytest.fail("published data not found: set BAYES_SCALING_DATA to the shared/data folder")
    os.environ["BAYES_SCALING_DATA"] = str(path)
    return path


@pytest.fixture(scope="session")
def simulated_frame():
    """Chinchilla-law runs on a 6-budget IsoFLOP design with Student-t noise, like the published data."""
    law, likelihood = get_law("chinchilla"), get_likelihood("student_t")
    design = isoflop_design([6e18, 3e19, 1e20, 3e20, 1e21, 3e21], sizes_per_budget=10)
    return simulate_runs(law, TRUE_PARAMS, design, likelihood, TRUE_NOISE, seed=7)


@pytest.fixture()
def simulated_runs(simulated_frame) -> RunTable:
    columns = {"n_params": "n_params", "n_tokens": "n_tokens", "compute": "compute", "loss": "loss"}
    frame = validate_table(simulated_frame, "simulated", columns)
    return RunTable(frame=frame, source={"file": "simulated"}, n_counts_embeddings=True)


def synthetic_tree(converged: bool = True, draws: int = 200, seed: int = 0) -> xr.DataTree:
    """A small fit-shaped DataTree around TRUE_PARAMS, built with numpy (no sampling), for report and API tests."""
    from bayes_scaling.sampling.diagnostics import Diagnostics
    from bayes_scaling.sampling.model import OBSERVED

    rng = np.random.default_rng(seed)
    law, likelihood = get_law("chinchilla"), get_likelihood("student_t")
    shape = (2, draws)
    post = {k: v * np.exp(0.03 * rng.standard_normal(shape)) for k, v in {**TRUE_PARAMS, **TRUE_NOISE}.items()}
    design = isoflop_design([6e18, 1e20, 1e21], sizes_per_budget=8)
    runs = simulate_runs(law, TRUE_PARAMS, design, likelihood, TRUE_NOISE, seed=seed)
    run = np.arange(1, len(runs) + 1)
    coords = {"chain": [0, 1], "draw": np.arange(draws)}
    posterior = xr.Dataset({k: (("chain", "draw"), v) for k, v in post.items()}, coords=coords)
    mu = np.log(law.loss(n_params=runs["n_params"].to_numpy(), n_tokens=runs["n_tokens"].to_numpy(),
                         **{k: post[k][..., None] for k in TRUE_PARAMS}))
    noise = {k: post[k][..., None] for k in TRUE_NOISE}
    observed = np.log(runs["loss"].to_numpy())
    pp = likelihood.sample(rng, mu, **noise)
    dims3 = ("chain", "draw", "run")
    names = list(TRUE_PARAMS) + list(TRUE_NOISE)
    diag = Diagnostics(
        rhat=dict.fromkeys(names, 1.001 if converged else 1.2), ess_bulk=dict.fromkeys(names, 900.0),
        ess_tail=dict.fromkeys(names, 800.0), divergences=0 if converged else 12, draws=2 * draws,
        problems=() if converged else ("R-hat of alpha is 1.200 (> 1.01)", "12 divergent transitions"),
    )
    tree = xr.DataTree.from_dict({
        "/posterior": posterior,
        "/sample_stats": xr.Dataset({"diverging": (("chain", "draw"), np.zeros(shape, bool))}, coords=coords),
        "/observed_data": xr.Dataset({OBSERVED: ("run", observed)}, coords={"run": run}),
        "/constant_data": xr.Dataset({k: ("run", runs[k].to_numpy()) for k in
                                      ("n_params", "n_tokens", "compute", "loss")}, coords={"run": run}),
        "/log_likelihood": xr.Dataset({OBSERVED: (dims3, likelihood.logpdf(observed, mu, **noise))},
                                      coords={**coords, "run": run}),
        "/posterior_predictive": xr.Dataset({OBSERVED: (dims3, pp)}, coords={**coords, "run": run}),
    })
    tree.attrs.update({
        "law": "chinchilla", "likelihood": "student_t", "geometry": "centred", "analysis": "synthetic",
        "title": "Synthetic fit", "priors": '{"E": {"dist": "LogNormal", "mu": 0.5, "sigma": 0.5}}',
        "data_source": '{"file": "simulated", "sha256": "0"}', "n_counts_embeddings": "true",
        "filters": "[]", "n_runs": len(runs), "seed": seed, "versions": '{"bayes_scaling": "test"}',
        "diagnostics": diag.to_json(), "converged": int(converged),
        "spec": '{"sampler": {"draws": 200}, "references": ["hoffmann-2022", "epoch-2024"]}',
    })
    return tree
